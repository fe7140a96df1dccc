"""Courseware: accepted by content (never by name), size-bounded, stored with its SHA-256 and
original name as metadata only, and downloadable by people the course is open to."""

from __future__ import annotations

import hashlib
import io
import zipfile
from pathlib import Path
from urllib.parse import quote

import cv2
import httpx
import numpy as np
import pytest
from sqlalchemy import select

from classroom.db.models import Course, CourseAudience, Unit
from classroom.runtime import Services
from tests.api_helpers import Portal, make_portal
from tests.recording_helpers import clip

pytestmark = pytest.mark.anyio

PDF = b"%PDF-1.4\n1 0 obj<</Type/Catalog>>endobj\ntrailer<</Root 1 0 R>>\n%%EOF\n"


def _zip(*names: str) -> bytes:
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w") as z:
        for n in names:
            z.writestr(n, "<x/>")
    return buf.getvalue()


def _image(ext: str) -> bytes:
    img = np.full((48, 64, 3), 200, np.uint8)
    ok, data = cv2.imencode(ext, img)
    assert ok
    return bytes(data)


def _mp4(tmp: Path) -> bytes:
    return clip(tmp / "clip.mp4", 1, size="160x120", rate=10).read_bytes()


GOOD = {
    "slides.pdf": ("pdf", PDF),
    "讲义.pptx": ("pptx", _zip("[Content_Types].xml", "ppt/presentation.xml", "ppt/slides/s1.xml")),
    "notes.docx": ("docx", _zip("[Content_Types].xml", "word/document.xml")),
    "photo.jpg": ("jpeg", _image(".jpg")),
    "diagram.png": ("png", _image(".png")),
}
BAD = {
    "virus.pdf": b"MZ\x90\x00" + b"\0" * 200,  # a program named like a PDF
    "cut.pdf": PDF[:30],  # a PDF without its end
    "archive.pptx": _zip("readme.txt"),  # a ZIP, not a presentation
    "broken.png": b"\x89PNG\r\n\x1a\n" + b"\0" * 100,
    "old.ppt": b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1" + b"\0" * 500,
    "fake.mp4": b"\0\0\0\x18ftypmp42" + b"\0" * 300,
    "empty.pdf": b"",
}


@pytest.fixture
async def portal(services: Services) -> Portal:
    return await make_portal(services)


async def _upload(client: httpx.AsyncClient, course: int, name: str, data: bytes) -> httpx.Response:
    return await client.post(
        f"/api/v1/courses/{course}/courseware", files={"file": (name, data, "text/plain")}
    )


async def test_accepted_by_content_and_downloaded_whole(portal: Portal, tmp_path: Path) -> None:
    files = {**GOOD, "lecture.mp4": ("mp4", _mp4(tmp_path))}
    async with portal.as_user("trainer") as trainer:
        for name, (kind, data) in files.items():
            r = await _upload(trainer, 1, name, data)
            assert r.status_code == 201, (name, r.text)
            assert r.json()["kind"] == kind and r.json()["original_name"] == name
        # The name is a label only: no directories, never part of the object key.
        r = await _upload(trainer, 1, "../../etc/passwd.pdf", PDF + b"%another\n")
        assert r.json()["original_name"] == "passwd.pdf"
        # The same bytes under another name are recognised as a file the course already has.
        again = await _upload(trainer, 1, "slides (1).pdf", PDF)
        assert again.status_code == 409
        assert again.json()["detail"]["code"] == "courseware_duplicate"
        assert again.json()["detail"]["name"] == "slides.pdf"
        listed = (await trainer.get("/api/v1/courses/1/courseware")).json()
    assert len(listed) == len(files) + 1
    store = portal.services.store
    async with portal.as_user("officer1") as officer:
        for item in listed[: len(files)]:
            (kind, data) = files[item["original_name"]]
            r = await officer.get(f"/api/v1/courseware/{item['id']}/download")
            assert r.status_code == 200 and r.content == data
            assert quote(item["original_name"]) in r.headers["content-disposition"]
    keys = [
        str(o.object_name) for o in store.client.list_objects(store.bucket, "courseware/", True)
    ]
    assert len(keys) == len(files) + 1
    assert all(k.startswith("courseware/course-1/") and ".." not in k for k in keys)
    assert not any("passwd" in k or "slides" in k for k in keys)
    info = store.stat(keys[0])
    assert info.sha256 and len(info.sha256) == 64


async def test_refused_by_content_with_the_reason(portal: Portal) -> None:
    async with portal.as_user("trainer") as trainer:
        for name, data in BAD.items():
            r = await _upload(trainer, 1, name, data)
            assert r.status_code == 415, (name, r.status_code, r.text)
            assert r.json()["detail"], name
        why = (await _upload(trainer, 1, "virus.pdf", BAD["virus.pdf"])).json()["detail"]
        assert "content" in why and "PDF" in why
        assert (await trainer.get("/api/v1/courses/1/courseware")).json() == []
    store = portal.services.store
    assert not list(store.client.list_objects(store.bucket, "courseware/", True))


async def test_size_bound(services: Services) -> None:
    services.settings.web.courseware_max_mb = 1
    portal = await make_portal(services)
    big = PDF + b"%" * (1024 * 1024 + 10)
    async with portal.as_user("trainer") as trainer:
        r = await _upload(trainer, 1, "big.pdf", big)
        assert r.status_code == 413
        assert (await _upload(trainer, 1, "small.pdf", PDF)).status_code == 201


async def test_who_uploads_and_who_downloads(portal: Portal) -> None:
    async with portal.services.sessionmaker() as db:
        office = await db.scalar(select(Unit.id).where(Unit.name == "法制科"))
        # open to the office unit only: officer1 serves in a squad
        db.add(Course(id=2, code="C2", title="x", audience_rows=[CourseAudience(unit_id=office)]))
        await db.commit()
    async with portal.as_user("officer1") as officer:
        assert (await _upload(officer, 1, "a.pdf", PDF)).status_code == 403
    async with portal.as_user("trainer") as trainer:
        assert (await _upload(trainer, 2, "a.pdf", PDF)).status_code == 403  # not their course
        assert (await _upload(trainer, 9, "a.pdf", PDF)).status_code == 404
    async with portal.as_user("manager") as manager:
        r = await _upload(manager, 2, "a.pdf", PDF)
        assert r.status_code == 201
        item = r.json()["id"]
    async with portal.as_user("officer1") as officer:
        assert (await officer.get("/api/v1/courses/2/courseware")).status_code == 403
        assert (await officer.get(f"/api/v1/courseware/{item}/download")).status_code == 403
        assert (await officer.get("/api/v1/courses/1/courseware")).status_code == 200
    async with portal.client() as anon:
        assert (await anon.get(f"/api/v1/courseware/{item}/download")).status_code == 401


async def test_presigned_download(services: Services) -> None:
    services.settings.storage.playback = "presigned"
    portal = await make_portal(services)
    async with portal.as_user("trainer") as trainer:
        item = (await _upload(trainer, 1, "课件 一.pdf", PDF)).json()
        r = await trainer.get(f"/api/v1/courseware/{item['id']}/download")
    assert r.status_code == 307
    async with httpx.AsyncClient() as s3:
        got = await s3.get(r.headers["location"])
    assert got.status_code == 200 and got.content == PDF
    assert quote("课件 一.pdf") in got.headers["content-disposition"]


async def test_upload_from_the_session_page(portal: Portal) -> None:
    sid = portal.world.session_id
    async with portal.as_user("trainer") as trainer:
        r = await trainer.post(
            f"/sessions/{sid}/courseware", files={"file": ("第一讲.pdf", PDF, "application/pdf")}
        )
        assert r.status_code == 303
        page = await trainer.get(f"/sessions/{sid}")
        # Chosen again (another name, the same bytes): said beside the file field.
        again = await trainer.post(
            f"/sessions/{sid}/courseware",
            files={"file": ("第一讲(1).pdf", PDF, "application/pdf")},
            headers={"X-Form": "1"},
        )
        assert again.status_code == 409
        assert again.json() == {"message": "本课程已有同一文件：第一讲.pdf", "field": "file"}
    assert "第一讲.pdf" in page.text and 'id="upload-courseware"' in page.text


def test_labels_keep_no_directories_or_control_characters() -> None:
    from classroom.courseware import label

    assert label("C:\\Users\\li\\..\\讲义.pptx") == "讲义.pptx"
    assert label("../../etc/pass\x00wd\n.pdf") == "passwd.pdf"
    assert label("/") == "file"
    assert len(label("x" * 1000)) == 255


async def test_a_resumable_upload_continues_where_it_stopped(
    portal: Portal, tmp_path: Path
) -> None:
    data = _mp4(tmp_path)
    half = len(data) // 2
    async with portal.as_user("trainer") as trainer:
        r = await trainer.post(
            "/api/v1/courses/1/uploads", json={"filename": "录像.mp4", "size": len(data)}
        )
        assert r.status_code == 201 and r.json()["offset"] == 0
        up = f"/api/v1/uploads/{r.json()['id']}"
        sent = await trainer.put(up, params={"offset": 0}, content=data[:half])
        assert sent.json()["offset"] == half
        # The connection dropped and the page sends from the start again: told where to resume.
        stale = await trainer.put(up, params={"offset": 0}, content=data[:half])
        assert stale.status_code == 409 and stale.json()["detail"]["offset"] == half
        early = await trainer.post(f"{up}/finish")
        assert early.status_code == 409 and early.json()["detail"]["code"] == "upload_short"
        assert (await trainer.get(up)).json() == {
            "id": r.json()["id"],
            "offset": half,
            "size": len(data),
        }
        over = await trainer.put(up, params={"offset": half}, content=data[half:] + b"x")
        assert over.status_code == 413 and (await trainer.get(up)).json()["offset"] == half
        async with portal.as_user("manager") as other:
            assert (await other.get(up)).status_code == 404  # someone else's is nobody's
        await trainer.put(up, params={"offset": half}, content=data[half:])
        done = await trainer.post(f"{up}/finish")
        assert done.status_code == 201, done.text
        item = done.json()
        assert item["kind"] == "mp4" and item["original_name"] == "录像.mp4"
        assert item["sha256"] == hashlib.sha256(data).hexdigest()
        assert (await trainer.get(up)).status_code == 404  # the partial file is gone
        got = await trainer.get(f"/api/v1/courseware/{item['id']}/download")
        assert got.content == data
        # Too large is refused before a byte is sent; the same file again when finished.
        limit = portal.services.settings.web.courseware_max_mb * 1024**2
        big = await trainer.post(
            "/api/v1/courses/1/uploads", json={"filename": "big.mp4", "size": limit + 1}
        )
        assert big.status_code == 413
        r = await trainer.post(
            "/api/v1/courses/1/uploads", json={"filename": "again.mp4", "size": len(data)}
        )
        up = f"/api/v1/uploads/{r.json()['id']}"
        await trainer.put(up, params={"offset": 0}, content=data)
        same = await trainer.post(f"{up}/finish")
        assert same.status_code == 409 and same.json()["detail"]["name"] == "录像.mp4"
    async with portal.as_user("officer1") as officer:
        refused = await officer.post(
            "/api/v1/courses/1/uploads", json={"filename": "a.pdf", "size": 10}
        )
        assert refused.status_code == 403
    assert not list((portal.services.settings.data_dir / "uploads").glob("*.part"))
