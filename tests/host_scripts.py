"""Host programs run inside the simulation (``lowbit.sim.host.run_host``): each builds a
:class:`lowbit.host.Device` on the simulated UART and returns plain JSON for pytest to check
against the golden models. Nothing here computes an expected result."""

import numpy as np
from lowbit.host import Device


def _device(transport, args):
    return Device(transport, args["unit_map"], timeout=args.get("timeout", 0.05))


def ping(transport, args):
    dev = _device(transport, args)
    return list(dev.ping(bytes(args["data"])))


def mac(transport, args):
    dev = _device(transport, args)
    return np.asarray(dev.mac(np.array(args["a"]), np.array(args["b"]))).tolist()


def matmul(transport, args):
    dev = _device(transport, args)
    out = []
    for run in args["runs"]:
        C = dev.matmul(np.array(run["A"]), np.array(run["B"]), wa=run["wa"], wb=run["wb"],
                       a_signed=run["a_signed"], b_signed=run["b_signed"])
        out.append(C.tolist())
    return {"C": out, "cycles": transport.cycles()}


def resident(transport, args):
    """Weights loaded once, several inputs, then other weights: each product with the cycles
    it took."""
    dev = _device(transport, args)
    out = []
    for group in args["groups"]:
        dev.load_weights(np.array(group["B"]), wb=group["wb"])
        for A in group["As"]:
            start, sent = transport.cycles(), transport.sent_bytes
            C = dev.matmul(np.array(A), wa=group["wa"])
            out.append({"C": C.tolist(), "cycles": transport.cycles() - start,
                        "host_bytes": transport.sent_bytes - sent})
    return {"products": out}


def conv2d(transport, args):
    dev = _device(transport, args)
    maps = [dev.conv2d(np.array(img), np.array(args["filter"]), args.get("bias", 0)).tolist()
            for img in args["images"]]
    return {"maps": maps, "cycles": transport.cycles()}


def classify(transport, args):
    """All images through the on-chip network in one call, and the device time it took."""
    dev = _device(transport, args)
    start, sent = transport.now(), transport.sent_bytes
    classes = dev.classify(np.array(args["x"]))
    return {"classes": classes.tolist(), "seconds": transport.now() - start,
            "host_bytes": transport.sent_bytes - sent}


def bnn_layer(transport, args):
    dev = _device(transport, args)
    t = args.get("thresholds")
    out = dev.bnn_layer(np.array(args["x"]), np.array(args["weights"]),
                        None if t is None else np.array(t),
                        None if t is None else np.array(args["invert"]))
    return out.tolist()


def mac_stream(transport, args):
    dev = _device(transport, args)
    values, overflow = dev.mac_stream(*(np.array(args[k]) for k in ("a", "b", "first", "last")))
    return {"values": values.tolist(), "overflow": overflow.tolist()}


def _code(dev, cmd):
    """The error code of the next response (None for a success)."""
    status, body = dev._read_frame(cmd)
    return body[0] if status == 0xFF else None


def errors(transport, args):
    """Bad frames of every kind, each answered; then the unit still computes (a MAC build)."""
    from lowbit.golden.link import Command, encode_frame
    from lowbit.host import LinkError

    dev = _device(transport, args)
    m = dev.map
    got = {}
    word = bytes(m.in_bytes)
    bad = bytearray(encode_frame(Command.SEND, word))
    bad[5] ^= 0x10  # a payload bit
    transport.write(bad)
    got["corrupted"] = _code(dev, Command.SEND)
    transport.write(encode_frame(Command.SEND, word)[:6])  # the rest never comes
    transport.idle(args["timeout_bits"] + 10)
    got["truncated"] = _code(dev, Command.SEND)
    transport.write(encode_frame(0x55, b"??"))
    got["unknown"] = _code(dev, 0x55)
    transport.write(encode_frame(Command.SEND, word + b"x"), bad_stop=())
    got["ragged_send"] = _code(dev, Command.SEND)
    transport.write(encode_frame(Command.RECV, b"\x01"))
    got["short_recv"] = _code(dev, Command.RECV)
    frame = encode_frame(Command.PING, b"abc")
    transport.write(frame, bad_stop=(5,))
    got["framing"] = _code(dev, Command.PING)
    got["read_only"] = _code_of(dev, lambda: dev.write_reg(0x80, 1))
    got["no_such_register"] = _code_of(dev, lambda: dev.read_reg(0xF0))
    # Fill both queues without reading: the unit stalls, SEND reports the room left, and a
    # SEND larger than that is refused whole.
    beat = int(1 << 32 | 1 << 33)  # a = b = 0, first and last: one result per word
    got["empty_status"] = list(dev.status())
    per_send = m.max_payload // m.in_bytes
    got["no_room"] = None
    for _ in range(10):  # the output queue fills, then the input queue
        try:
            dev.send([beat] * per_send)
        except LinkError as exc:
            got["no_room"] = exc.code
            break
    got["full_status"] = list(dev.status())
    dev.reset()
    got["reset_status"] = list(dev.status())
    # RECV returns what is asked for, at most what is queued, possibly nothing: five
    # one-term sums a = k/256 (code 16k of <4,12>) times b = 1.0 (4096), results k in <8,8>.
    dev.send([16 * k | 4096 << 16 | 3 << 32 for k in range(1, 6)])
    transport.idle(100)
    got["recv_sizes"] = [dev.recv(n) for n in (1, 0, 2, 100, 5)]
    # Everything still works: a ping, and dot products.
    got["ping"] = list(dev.ping(b"alive"))
    got["mac"] = np.asarray(dev.mac(np.array(args["a"]), np.array(args["b"]))).tolist()
    return got


def _code_of(dev, call):
    from lowbit.host import LinkError

    try:
        call()
    except LinkError as exc:
        return exc.code
    return None


def no_answer(transport, args):
    """A device that never answers (the wrong baud rate) gives NoAnswer, not a hang."""
    from lowbit.host import DeviceError

    try:
        Device(transport, args["unit_map"], timeout=args["timeout"])
    except DeviceError as exc:
        return [type(exc).__name__, str(exc)]
    return None
