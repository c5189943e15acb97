"""Python's side of the tests of tools/lib (run logs and charts): reads what
Ember wrote with independent readers and prints JSON on stdout.

  log_oracle.py crc HEX...            CRC-32C from its definition (and TensorBoard's, when importable)
  log_oracle.py records FILE          TFRecords of an event file, CRCs checked, Events parsed by TensorBoard's protos
  log_oracle.py scalars FOLDER        TensorBoard's EventAccumulator: every scalar tag and its (wall_time, step, value)
  log_oracle.py csv FILE              the rows as Python's csv module reads them
  log_oracle.py png FILE RAW          PIL decodes the PNG, writes its RGB bytes to RAW
"""
import json
import struct
import sys


def crc32c(data):
    # Bit by bit from the definition: reflected polynomial 0x82F63B78,
    # initial value and final XOR 0xFFFFFFFF.
    crc = 0xFFFFFFFF
    for byte in data:
        crc ^= byte
        for _ in range(8):
            crc = (crc >> 1) ^ (0x82F63B78 if crc & 1 else 0)
    return crc ^ 0xFFFFFFFF


def masked(crc):
    return (((crc >> 15) | (crc << 17)) + 0xA282EAD8) & 0xFFFFFFFF


def cmd_crc(args):
    try:
        from tensorboard.compat.tensorflow_stub.pywrap_tensorflow import masked_crc32c as tb_masked
    except ImportError:
        tb_masked = None
    out = []
    for h in args:
        data = bytes.fromhex(h)
        c = crc32c(data)
        out.append({"crc": c, "masked": masked(c), "tensorboard_masked": tb_masked(data) if tb_masked else None})
    return out


def cmd_records(path):
    from tensorboard.compat.proto import event_pb2
    from tensorboard.compat.tensorflow_stub.pywrap_tensorflow import masked_crc32c

    events = []
    with open(path, "rb") as f:
        blob = f.read()
    pos = 0
    while pos < len(blob):
        header = blob[pos : pos + 8]
        (length,) = struct.unpack("<Q", header)
        (header_crc,) = struct.unpack("<I", blob[pos + 8 : pos + 12])
        data = blob[pos + 12 : pos + 12 + length]
        (data_crc,) = struct.unpack("<I", blob[pos + 12 + length : pos + 16 + length])
        if header_crc != masked_crc32c(header) or data_crc != masked_crc32c(data) or len(data) != length:
            raise SystemExit("bad record at byte %d" % pos)
        pos += 16 + length
        e = event_pb2.Event.FromString(data)
        events.append(
            {
                "wall_time": e.wall_time,
                "step": e.step,
                "what": e.WhichOneof("what"),
                "file_version": e.file_version,
                "values": [[v.tag, v.WhichOneof("value"), v.simple_value] for v in e.summary.value],
            }
        )
    return events


def cmd_scalars(folder):
    from tensorboard.backend.event_processing import event_accumulator

    acc = event_accumulator.EventAccumulator(folder, size_guidance={event_accumulator.SCALARS: 0})
    acc.Reload()
    tags = acc.Tags()["scalars"]
    return {
        "file_version": acc.file_version,
        "scalars": {t: [[e.wall_time, e.step, e.value] for e in acc.Scalars(t)] for t in tags},
    }


def cmd_csv(path):
    import csv

    with open(path, newline="") as f:
        return list(csv.reader(f))


def cmd_png(path, raw):
    from PIL import Image

    with Image.open(path) as im:
        info = {"format": im.format, "mode": im.mode, "width": im.width, "height": im.height}
        rgb = im.convert("RGB")
        with open(raw, "wb") as f:
            f.write(rgb.tobytes())
    return info


def main():
    cmd, args = sys.argv[1], sys.argv[2:]
    result = {
        "crc": lambda: cmd_crc(args),
        "records": lambda: cmd_records(args[0]),
        "scalars": lambda: cmd_scalars(args[0]),
        "csv": lambda: cmd_csv(args[0]),
        "png": lambda: cmd_png(args[0], args[1]),
    }[cmd]()
    json.dump(result, sys.stdout)


if __name__ == "__main__":
    main()
