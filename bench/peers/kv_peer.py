"""The Python peer for benchmarks: the same KV read route as the bridge
(GET /secrets/{path} with X-API-Key), written the way a Python team would
write it, with FastAPI, uvicorn and hvac from Debian's packages.

    VAULT_ADDR=... VAULT_TOKEN=... PEER_API_KEY=... \
      python3 -m uvicorn kv_peer:app --host 127.0.0.1 --port 9200
"""
import hmac
import os

import hvac
from fastapi import FastAPI, Header, HTTPException

app = FastAPI()
API_KEY = os.environ["PEER_API_KEY"]
SUBJECT = os.environ.get("PEER_SUBJECT", "agent_bench")
client = hvac.Client(url=os.environ["VAULT_ADDR"], token=os.environ["VAULT_TOKEN"])


@app.get("/secrets/{path:path}")
def read_secret(path: str, x_api_key: str = Header(default="")):
    if not hmac.compare_digest(x_api_key.encode(), API_KEY.encode()):
        raise HTTPException(status_code=401, detail="unauthenticated")
    if ".." in path.split("/"):
        raise HTTPException(status_code=400, detail="invalid path")
    try:
        r = client.secrets.kv.v2.read_secret_version(
            path="mcp/%s/%s" % (SUBJECT, path), mount_point="secret")
    except hvac.exceptions.InvalidPath:
        raise HTTPException(status_code=404, detail="not found")
    return {"path": path, "data": r["data"]["data"],
            "version": r["data"]["metadata"]["version"]}
