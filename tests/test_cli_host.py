"""The host side without a board: the serial transport on a pseudo-terminal pair with a fake
device behind it (the golden LinkModel plus the unit registers), ``lowbit ping`` and
``lowbit program`` with fake programmers, and every bad input."""

import json
import os
import stat
import threading

import pytest
from lowbit.gen.cli import main
from lowbit.golden.link import (
    SYNC,
    Command,
    LinkParams,
    crc16,
    ok_frame,
)
from lowbit.golden.linkmodel import LinkModel
from lowbit.golden.unitmap import LINK_FILE, UNIT_REG_BASE
from lowbit.host import (
    Device,
    DeviceError,
    LinkError,
    LinkUnavailable,
    NoAnswer,
    SerialTransport,
)
from lowbit.hw.ports import discard
from lowbit.hw.units import hosted

pytestmark = [pytest.mark.link]


def _unit_map():
    unit, hp = hosted("mac")
    link = unit.component(hp)
    discard(link, link.unit)
    return link.unit_map


class FakeDevice(threading.Thread):
    """The device side on a pty master: LinkModel for the link's commands, the signature
    register and an empty STATUS; ``silent`` answers nothing."""

    def __init__(self, fd, unit_map, silent=False):
        super().__init__(daemon=True)
        self.fd, self.map, self.silent = fd, unit_map, silent
        self.model = LinkModel(LinkParams())
        self.stop = False

    def answer(self, frame):
        cmd, body = frame[1], frame[4:-2]
        if cmd == Command.READ_REG and body == bytes([UNIT_REG_BASE]):
            return ok_frame(cmd, self.map.signature.to_bytes(4, "little"))
        if cmd == Command.STATUS:
            return ok_frame(cmd, self.map.in_queue.to_bytes(2, "little") + bytes(2))
        return self.model.respond(frame)

    def run(self):
        buf = b""
        while not self.stop:
            try:
                buf += os.read(self.fd, 4096)
            except OSError:
                return
            while True:
                start = buf.find(bytes([SYNC]))
                if start < 0 or len(buf) < start + 4:
                    break
                n = buf[start + 2] | buf[start + 3] << 8
                if len(buf) < start + 6 + n:
                    break
                frame, buf = buf[start:start + 6 + n], buf[start + 6 + n:]
                assert crc16(frame[1:]) == 0
                if not self.silent:
                    os.write(self.fd, self.answer(frame))


@pytest.fixture
def pty_device():
    """``make(silent=False)`` -> the serial port name of a fake device."""
    made = []

    def make(silent=False):
        master, slave = os.openpty()
        dev = FakeDevice(master, _unit_map(), silent)
        dev.start()
        made.append((dev, master, slave))
        return os.ttyname(slave)

    yield make
    for dev, master, slave in made:
        dev.stop = True
        os.close(slave)
        os.close(master)


def test_serial_transport_on_a_pty(pty_device):
    port = pty_device()
    with Device(SerialTransport(port, 3_000_000), _unit_map(), timeout=2.0) as dev:
        assert dev.ping(b"hello") == b"hello"
        assert dev.ping(bytes(range(256))) == bytes(range(256))
        dev.write_reg(3, 0xDEADBEEF)
        assert dev.read_reg(3) == 0xDEADBEEF
        with pytest.raises(LinkError, match="BAD_ADDRESS to READ_REG") as err:
            dev.read_reg(100)
        assert err.value.code == 6
        assert dev.status() == (dev.map.in_queue, 0)


def test_wrong_bitstream_is_refused(pty_device):
    port = pty_device()
    other = _unit_map()
    other = type(other).from_dict({**other.to_dict(), "in_queue": 7})
    with pytest.raises(DeviceError, match="runs a different design"):
        Device(SerialTransport(port), other, timeout=2.0)


def test_silent_device_times_out(pty_device):
    port = pty_device(silent=True)
    with pytest.raises(NoAnswer, match="no answer to READ_REG within 0.2 s"):
        Device(SerialTransport(port), _unit_map(), timeout=0.2)


def test_missing_port():
    with pytest.raises(LinkUnavailable, match="cannot open serial port '/dev/ttyNOPE9'"):
        SerialTransport("/dev/ttyNOPE9")


def _build_dir(tmp_path, family="ice40", board="icebreaker", link=True):
    d = tmp_path / "build"
    d.mkdir()
    (d / "report.json").write_text(json.dumps(
        {"bitstream": "lowbit_mac.bin", "board": board, "family": family}))
    (d / "lowbit_mac.bin").write_bytes(b"\x00" * 16)
    if link:
        (d / LINK_FILE).write_text(json.dumps(
            {"unit_map": _unit_map().to_dict(), "link": {"baud": 3_000_000}}))
    return d


def test_ping_command(pty_device, tmp_path, capsys):
    port = pty_device()
    build = _build_dir(tmp_path)
    assert main(["ping", str(build), "--port", port, "--count", "3"]) == 0
    out = capsys.readouterr().out
    assert "unit mac, signature 0x" in out and "3 PINGs of 256 bytes" in out


def test_ping_silent_device_exits_1(pty_device, tmp_path, capsys):
    port = pty_device(silent=True)
    build = _build_dir(tmp_path)
    assert main(["ping", str(build), "--port", port, "--timeout", "0.2"]) == 1
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and "no answer to READ_REG within 0.2 s" in err[0]


@pytest.mark.parametrize("argv_tail, message", [
    (["--port", "/dev/ttyNOPE9"], "cannot open serial port '/dev/ttyNOPE9'"),
    (["--port", "/dev/null", "--count", "0"], "--count: must be between 1 and 100,000"),
])
def test_ping_bad_input(tmp_path, usage_error, argv_tail, message):
    build = _build_dir(tmp_path)
    usage_error(["ping", str(build), *argv_tail], message)


def test_ping_needs_a_link_build(tmp_path, usage_error):
    build = _build_dir(tmp_path, link=False)
    usage_error(["ping", str(build), "--port", "/dev/null"], "link.json does not exist")


def test_ping_broken_link_file(tmp_path, usage_error):
    build = _build_dir(tmp_path)
    (build / LINK_FILE).write_text('{"unit_map": {}}')
    usage_error(["ping", str(build), "--port", "/dev/null"], "is not a link file of 'lowbit synth'")


def _fake_tool(tmp_path, name, code, text):
    bindir = tmp_path / "bin"
    bindir.mkdir(exist_ok=True)
    tool = bindir / name
    log = tmp_path / f"{name}.args"
    tool.write_text(f"#!/bin/sh\necho \"$@\" > {log}\necho '{text}'\nexit {code}\n")
    tool.chmod(tool.stat().st_mode | stat.S_IEXEC)
    return bindir, log


def test_program_without_a_programmer(tmp_path, monkeypatch, capsys):
    monkeypatch.setenv("PATH", str(tmp_path))
    build = _build_dir(tmp_path)
    assert main(["program", str(build)]) == 1
    err = capsys.readouterr().err
    assert "no programmer found (openFPGALoader or iceprog is not installed)" in err


def test_program_without_a_board(tmp_path, monkeypatch, capsys):
    bindir, _ = _fake_tool(tmp_path, "openFPGALoader", 1, "unable to open ftdi device: -3")
    monkeypatch.setenv("PATH", str(bindir))
    assert main(["program", str(_build_dir(tmp_path))]) == 1
    err = capsys.readouterr().err
    assert "is the icebreaker plugged in" in err and "unable to open ftdi device" in err


@pytest.mark.parametrize("flash", [False, True])
def test_program_calls_the_tool(tmp_path, monkeypatch, capsys, flash):
    bindir, log = _fake_tool(tmp_path, "openFPGALoader", 0, "done")
    monkeypatch.setenv("PATH", str(bindir))
    build = _build_dir(tmp_path, family="ecp5", board="ulx3s-85f")
    assert main(["program", str(build), *(["--flash"] if flash else [])]) == 0
    args = log.read_text().split()
    assert args[:2] == ["-b", "ulx3s"] and args[-1].endswith("lowbit_mac.bin")
    assert ("-f" in args) == flash
    assert "programmed ulx3s-85f" in capsys.readouterr().out


def test_program_bad_input(tmp_path, usage_error):
    usage_error(["program", str(tmp_path)], "is not a 'lowbit synth' output directory")
    build = _build_dir(tmp_path, family="ecp5", board="ulx3s-85f")
    usage_error(["program", str(build), "--tool", "iceprog"], "iceprog programs iCE40 boards")
