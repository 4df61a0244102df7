"""A component's ports as plain data: names, directions, widths and payload fields."""

from amaranth.hdl import Const, Value
from amaranth.lib import data
from amaranth.lib.wiring import In

__all__ = ["unit_ports", "port_list", "payload_fields", "discard"]


def unit_ports(component):
    """Split a component's non-constant ports into inputs and outputs.

    Returns
    -------
    (list, list)
        ``(inputs, outputs)``, each a list of ``(name, value)`` in signature order, ``name``
        the flattened port name (``i__payload``) and ``value`` a plain :class:`Value` (views
        are cast). Clock and reset are the clock domain's, not ports, so they do not appear.
    """
    inputs, outputs = [], []
    for path, member, value in component.signature.flatten(component):
        if isinstance(value, Const):
            continue
        name = "__".join(str(p) for p in path)
        (inputs if member.flow == In else outputs).append((name, Value.cast(value)))
    return inputs, outputs


def port_list(component):
    """``[(name, "in" | "out", width)]`` of the non-constant ports, in signature order."""
    return [("__".join(str(p) for p in path), "in" if member.flow == In else "out",
             len(Value.cast(value)))
            for path, member, value in component.signature.flatten(component)
            if not isinstance(value, Const)]


def payload_fields(component):
    """``{port name: {field: {"offset", "width", "signed"}}}`` for every port that is a view
    of a struct layout (a stream payload with named fields)."""
    out = {}
    for path, _, value in component.signature.flatten(component):
        if isinstance(value, data.View) and isinstance(value.shape(), data.StructLayout):
            out["__".join(str(p) for p in path)] = {
                name: {"offset": field.offset, "width": field.width,
                       "signed": field.shape.signed if hasattr(field.shape, "signed")
                       else Value.cast(getattr(value, name)).shape().signed}
                for name, field in value.shape()}
    return out


def discard(*elaboratables):
    """Mark components built only to read their ports (or left half-made by a bad parameter)
    as used, so Amaranth does not warn that they were "created but never used"."""
    # Amaranth 0.5 has no public way to do this for one object. Fragment.get() marks an object
    # used only by elaborating it (slow, and impossible for a half-made one); a warnings filter
    # cannot catch UnusedElaboratable, which is raised from __del__ whenever the object is
    # collected; the linter comment "# amaranth: UnusedElaboratable=no" silences a whole file,
    # the one that called the constructor. So this sets the flag Fragment.get() itself sets
    # (amaranth/hdl/_ir.py), through its name-mangled private attribute, here and nowhere else.
    for e in elaboratables:
        e._MustUse__used = True
