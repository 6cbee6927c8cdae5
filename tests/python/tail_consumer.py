"""A consumer that is not Rust: tails fleetlog's stream with nats-py and decodes every event
with Python classes generated from schemas/proto. Prints one JSON summary on stdout.

usage: tail_consumer.py NATS_URL STREAM SUBJECT_PREFIX COUNT PROTO_DIR
"""
import asyncio
import json
import os
import subprocess
import sys
import tempfile


def generate(proto_dir: str) -> str:
    out = tempfile.mkdtemp(prefix="fleetlog-pb-")
    protos = []
    for root, _, files in os.walk(proto_dir):
        protos += [os.path.relpath(os.path.join(root, f), proto_dir) for f in files if f.endswith(".proto")]
    subprocess.run(
        [sys.executable, "-m", "grpc_tools.protoc", f"-I{proto_dir}", f"--python_out={out}", *protos],
        check=True,
    )
    return out


async def main(url: str, stream: str, prefix: str, count: int, proto_dir: str) -> None:
    sys.path.insert(0, generate(proto_dir))
    from fleetlog.events.v1 import envelope_pb2  # noqa: E402  (generated just above)
    import nats
    from nats.js.api import DeliverPolicy

    nc = await nats.connect(url)
    js = nc.jetstream()
    sub = await js.subscribe(f"{prefix}.>", stream=stream, ordered_consumer=True, deliver_policy=DeliverPolicy.ALL)
    events = []
    for _ in range(count):
        msg = await sub.next_msg(timeout=20)
        env = envelope_pb2.Envelope()
        env.ParseFromString(msg.data)
        field = env.WhichOneof("event")
        events.append({
            "seq": msg.metadata.sequence.stream,
            "type": getattr(env, field).DESCRIPTOR.name,
            "header": (msg.headers or {}).get("Fleetlog-Event"),
            "aggregate": env.aggregate_type,
            "subject": msg.subject,
        })
    await nc.close()
    print(json.dumps({"events": events}))


if __name__ == "__main__":
    url, stream, prefix, count, proto_dir = sys.argv[1:6]
    asyncio.run(main(url, stream, prefix, int(count), proto_dir))
