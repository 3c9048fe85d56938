from pathlib import Path
import httpx, threading
from helpers import MilvusServer
from server.settings import Settings
from tests.server.test_documents import poll, settle, upload
FIX = Path("tests/fixtures/durability/docs")

def test_scratch(tmp_path, servers):
    engine = MilvusServer(tmp_path / "engine.db").start()
    server = servers.start(Settings(data=tmp_path / "data", seeds=Path("seeds"), index="milvus", milvus_uri=engine.uri))
    with server.client() as api:
        [r] = upload(api, ("report-2008.txt", (FIX / "report-2008.txt").read_bytes())).json()
        poll(api, r["doc_id"]); settle(server)
        print("ask before", api.post("/api/ask", json={"question": "取消农业税每年减轻农民负担多少？"}).json()["answer"])
        engine.kill()
        (tmp_path / "engine.db").rename(tmp_path / "old.db")
        engine.start()
        for i in range(3):
            h = api.get("/healthz"); print("healthz", h.status_code, h.text[:300])
            a = api.post("/api/ask", json={"question": "取消农业税每年减轻农民负担多少？"}); print("ask", a.status_code, a.text[:300])
            threading.Event().wait(1)
        [r2] = upload(api, ("report-2010.txt", (FIX / "report-2010.txt").read_bytes())).json()
        for i in range(6):
            threading.Event().wait(5)
            print("doc", api.get(f"/api/documents/{r2['doc_id']}").json()["status"])
            h = api.get("/healthz"); print("healthz", h.status_code, h.text[:200])
            a = api.post("/api/ask", json={"question": "取消农业税每年减轻农民负担多少？"}); print("ask", a.status_code, a.text[:100])
    server.stop()
    engine.kill()
