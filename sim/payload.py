"""Pack and unpack stream payloads with the field layout the manifest records."""

from ..golden.payload import pack_fields, unpack_fields

__all__ = ["port", "pack", "unpack"]


def port(manifest, name):
    for p in manifest["ports"]:
        if p["name"] == name:
            return p
    raise KeyError(f"{manifest['top']} has no port {name!r}")


def pack(port_entry, **fields):
    """Columns of field values (signed allowed) -> list of payload integers."""
    return pack_fields(port_entry["fields"], **fields)


def unpack(port_entry, words):
    """Payload integers -> dict of field columns (int object arrays, sign-extended)."""
    return unpack_fields(port_entry["fields"], words)
