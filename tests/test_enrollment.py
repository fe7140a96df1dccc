"""Face enrolment and ID cards through the API: consent, per-frame quality refusals, one person
per enrolment, no self-enrolment, photos kept only when configured, audited deletion, and the
in-memory gallery following every change."""

from __future__ import annotations

import cv2
import numpy as np
import pytest
from sqlalchemy import select

from classroom.db.models import AuditEntry, FaceEmbedding, Person
from classroom.runtime import Services
from tests.api_helpers import Portal, make_portal
from tests.face_helpers import BLANK, FACES, OBAMA, enroll, jpeg

pytestmark = pytest.mark.anyio


async def _id(db_portal: Portal, username: str) -> int:
    async with db_portal.services.sessionmaker() as db:
        pid = await db.scalar(select(Person.id).where(Person.username == username))
        assert pid is not None
        return pid


@pytest.fixture
async def portal(services: Services) -> Portal:
    return await make_portal(services)


async def test_enrol_match_and_delete(portal: Portal) -> None:
    officer = await _id(portal, "officer1")
    async with portal.as_user("manager") as manager:
        r = await enroll(manager, officer, OBAMA)
        assert r.status_code == 201, r.text
        assert r.json() == {
            "person_id": officer,
            "enrolled": True,
            "frames": 3,
            "consent_at": r.json()["consent_at"],
            "photos_kept": 0,
        }
    store = portal.services.store
    assert not list(store.client.list_objects(store.bucket, "faces/", True))  # no photos kept
    faces = portal.services.faces
    engine = await faces.engine()
    probe = cv2.imread(str(FACES / "obama2.jpg"))
    emb = engine.embed(probe, engine.detect(probe)[0])
    async with portal.services.sessionmaker() as db:
        assert len((await db.scalars(select(FaceEmbedding))).all()) == 3
        match = await faces.match(db, emb)
        assert match is not None and match.person_id == officer
        stranger = cv2.imread(str(FACES / "biden.jpg"))
        assert await faces.match(db, engine.embed(stranger, engine.detect(stranger)[0])) is None
    async with portal.as_user("officer1") as me:
        assert (await me.get(f"/api/v1/people/{officer}/face")).json()["enrolled"]
        assert (await me.delete(f"/api/v1/people/{officer}/face")).status_code == 204  # my data
        assert not (await me.get(f"/api/v1/people/{officer}/face")).json()["enrolled"]
        assert (await me.delete(f"/api/v1/people/{officer}/face")).status_code == 404
    async with portal.services.sessionmaker() as db:
        assert await faces.match(db, emb) is None  # the gallery followed the deletion
        actions = (await db.scalars(select(AuditEntry.action))).all()
        assert "face.enroll" in actions and "face.delete" in actions
        assert (await db.scalars(select(FaceEmbedding))).all() == []


async def test_refusals_name_the_frame_and_the_reason(portal: Portal) -> None:
    officer = await _id(portal, "officer2")
    async with portal.as_user("trainer") as trainer:
        r = await enroll(trainer, officer, OBAMA, consent=False)
        assert r.status_code == 422 and r.json()["detail"]["code"] == "no_consent"
        r = await enroll(trainer, officer, OBAMA[:2])
        assert r.json()["detail"]["code"] == "frame_count"
        r = await enroll(trainer, officer, [OBAMA[0], BLANK, OBAMA[1]])
        assert r.json()["detail"] == {
            "code": "no_face",
            "frame": 2,
            "message": r.json()["detail"]["message"],
        }
        r = await enroll(trainer, officer, [OBAMA[0], b"%PDF-1.4 not a picture", OBAMA[1]])
        assert r.json()["detail"]["code"] == "not_an_image"
        r = await enroll(trainer, officer, [OBAMA[0], jpeg("biden"), OBAMA[1]])
        assert r.json()["detail"]["code"] == "different_people"
        r = await enroll(trainer, officer, [jpeg("obama", width=200)] * 3)
        assert r.json()["detail"]["code"] == "too_small"
        huge = cv2.imencode(
            ".png", np.random.default_rng(1).integers(0, 255, (1400, 1400, 3), np.uint8)
        )[1].tobytes()
        assert len(huge) > 2 * 1024 * 1024
        r = await enroll(trainer, officer, [huge, OBAMA[0], OBAMA[1]])
        assert r.status_code == 422 and r.json()["detail"]["code"] == "too_large"
        assert r.json()["detail"]["frame"] == 1
        assert not (await trainer.get(f"/api/v1/people/{officer}/face")).json()["enrolled"]


async def test_who_may_enrol(portal: Portal) -> None:
    officer, trainer_id = await _id(portal, "officer1"), await _id(portal, "trainer")
    async with portal.as_user("officer1") as me:
        assert (await enroll(me, officer, OBAMA)).status_code == 403  # not myself
        other = await _id(portal, "officer2")
        assert (await enroll(me, other, OBAMA)).status_code == 403  # nor anyone
        assert (await me.get(f"/api/v1/people/{other}/face")).status_code == 403
        assert (await me.delete(f"/api/v1/people/{other}/face")).status_code == 403
    async with portal.as_user("trainer") as trainer:
        assert (await enroll(trainer, trainer_id, OBAMA)).status_code == 403
        assert (await trainer.delete(f"/api/v1/people/{officer}/face")).status_code == 403


async def test_photos_only_when_the_deployment_keeps_them(services: Services) -> None:
    services.settings.faces.keep_photos = True
    portal = await make_portal(services)
    officer = await _id(portal, "officer3")
    store = services.store
    async with portal.as_user("admin") as admin:
        r = await enroll(admin, officer, OBAMA)
        assert r.json()["photos_kept"] == 3
        assert len(list(store.client.list_objects(store.bucket, "faces/", True))) == 3
        assert (await admin.delete(f"/api/v1/people/{officer}/face")).status_code == 204
    assert not list(store.client.list_objects(store.bucket, "faces/", True))


async def test_cards(portal: Portal) -> None:
    one, two = await _id(portal, "officer1"), await _id(portal, "officer2")
    async with portal.as_user("manager") as manager:
        r = await manager.post(f"/api/v1/people/{one}/cards", json={"card_no": " 00a12345 "})
        assert r.status_code == 201 and r.json()["card_no"] == "00A12345"
        again = await manager.post(f"/api/v1/people/{one}/cards", json={"card_no": "00A12345"})
        assert again.status_code == 201  # the same card for the same person: no change
        taken = await manager.post(f"/api/v1/people/{two}/cards", json={"card_no": "00a12345"})
        assert taken.status_code == 409
        bad = await manager.post(f"/api/v1/people/{two}/cards", json={"card_no": "12;DROP"})
        assert bad.status_code == 422
        assert [
            c["card_no"] for c in (await manager.get(f"/api/v1/people/{one}/cards")).json()
        ] == ["00A12345"]
    async with portal.as_user("trainer") as trainer:
        r = await trainer.post(f"/api/v1/people/{two}/cards", json={"card_no": "99999999"})
        assert r.status_code == 403


async def test_people_pages_are_for_staff(portal: Portal) -> None:
    officer, trainer_id = await _id(portal, "officer1"), await _id(portal, "trainer")
    async with portal.as_user("officer1") as me:
        assert (await me.get("/people")).status_code == 403
        assert (await me.get(f"/people/{officer}/enrol")).status_code == 403
    async with portal.as_user("trainer") as trainer:
        page = await trainer.get("/people")
        assert page.status_code == 200 and f'data-person="{officer}"' in page.text
        assert (await trainer.get(f"/people/{officer}/enrol")).status_code == 200
        assert (await trainer.get(f"/people/{trainer_id}/enrol")).status_code == 403
        assert (await trainer.get("/people/99999/enrol")).status_code == 404


async def test_one_picture_is_one_frame_and_one_face_is_one_person(portal: Portal) -> None:
    """The same picture sent again — as it is, re-encoded, scaled — is refused as one picture;
    a face that already matches another enrolled person is refused for an administrator to
    resolve, while the person's own re-enrolment is taken."""
    officer1, officer2 = await _id(portal, "officer1"), await _id(portal, "officer2")
    original = cv2.imread(str(FACES / "obama.jpg"))
    copies = {
        "as it is": OBAMA[0],
        "re-encoded": cv2.imencode(".jpg", original, [cv2.IMWRITE_JPEG_QUALITY, 50])[1].tobytes(),
        "scaled": cv2.imencode(".jpg", cv2.resize(original, None, fx=0.9, fy=0.9))[1].tobytes(),
    }
    async with portal.as_user("manager") as manager:
        for how, copy in copies.items():
            r = await enroll(manager, officer1, [OBAMA[0], OBAMA[2], copy])
            assert r.status_code == 422, how
            assert (r.json()["detail"]["code"], r.json()["detail"]["frame"]) == ("same_picture", 3)
        assert (await enroll(manager, officer1, OBAMA)).status_code == 201
        r = await enroll(manager, officer2, OBAMA)
        assert r.status_code == 409
        assert r.json()["detail"]["code"] == "matches_another"
        assert r.json()["detail"]["person_id"] == officer1
        assert not (await manager.get(f"/api/v1/people/{officer2}/face")).json()["enrolled"]
        assert (await enroll(manager, officer1, OBAMA)).status_code == 201  # their own, again
