"""A simulated ONVIF camera (device, media and PTZ services over SOAP 1.2): answers what a PTZ
client needs, checks each request's WS-Security UsernameToken digest, and records presets
recalled. Unknown operations get a SOAP fault, as real cameras answer."""

from __future__ import annotations

import base64
import hashlib
import threading
import xml.etree.ElementTree as ET
from collections.abc import Iterator
from contextlib import contextmanager
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

from storage.ports import free_port

NS = {
    "s": "http://www.w3.org/2003/05/soap-envelope",
    "wsse": "http://docs.oasis-open.org/wss/2004/01/oasis-200401-wss-wssecurity-secext-1.0.xsd",
    "wsu": "http://docs.oasis-open.org/wss/2004/01/oasis-200401-wss-wssecurity-utility-1.0.xsd",
}
ENVELOPE = (
    '<?xml version="1.0" encoding="UTF-8"?>'
    '<s:Envelope xmlns:s="http://www.w3.org/2003/05/soap-envelope"'
    ' xmlns:tds="http://www.onvif.org/ver10/device/wsdl"'
    ' xmlns:trt="http://www.onvif.org/ver10/media/wsdl"'
    ' xmlns:tptz="http://www.onvif.org/ver20/ptz/wsdl"'
    ' xmlns:tt="http://www.onvif.org/ver10/schema"><s:Body>{}</s:Body></s:Envelope>'
)
FAULT = (
    "<s:Fault><s:Code><s:Value>s:{code}</s:Value></s:Code>"
    '<s:Reason><s:Text xml:lang="en">{reason}</s:Text></s:Reason></s:Fault>'
)


class OnvifCamera:
    def __init__(self, user: str, password: str) -> None:
        self.user, self.password = user, password
        self.port = free_port()
        self.base = f"http://127.0.0.1:{self.port}"
        self.presets = {"1": "door", "4": "lectern"}
        self.recalled: list[tuple[str, str]] = []
        self.refused = 0

    def authorized(self, root: ET.Element) -> bool:
        token = root.find(".//wsse:UsernameToken", NS)
        if token is None:
            return False
        user = token.findtext("wsse:Username", "", NS)
        digest = token.findtext("wsse:Password", "", NS)
        nonce = base64.b64decode(token.findtext("wsse:Nonce", "", NS) or "")
        created = token.findtext("wsu:Created", "", NS) or ""
        expected = base64.b64encode(
            hashlib.sha1(nonce + created.encode() + self.password.encode()).digest()
        ).decode()
        return user == self.user and digest == expected

    def answer(self, path: str, body: bytes) -> tuple[int, str]:
        root = ET.fromstring(body)
        if not self.authorized(root):
            self.refused += 1
            return 400, FAULT.format(code="Sender", reason="not authorized")
        op = root.find("s:Body", NS)[0]  # type: ignore[index]
        name = op.tag.rsplit("}", 1)[1]
        if path == "/onvif/device_service" and name == "GetCapabilities":
            return 200, (
                "<tds:GetCapabilitiesResponse><tds:Capabilities>"
                f"<tt:Media><tt:XAddr>{self.base}/onvif/media_service</tt:XAddr>"
                "<tt:StreamingCapabilities><tt:RTPMulticast>false</tt:RTPMulticast>"
                "<tt:RTP_TCP>true</tt:RTP_TCP><tt:RTP_RTSP_TCP>true</tt:RTP_RTSP_TCP>"
                "</tt:StreamingCapabilities></tt:Media>"
                f"<tt:PTZ><tt:XAddr>{self.base}/onvif/ptz_service</tt:XAddr></tt:PTZ>"
                "</tds:Capabilities></tds:GetCapabilitiesResponse>"
            )
        if path == "/onvif/media_service" and name == "GetProfiles":
            return 200, (
                '<trt:GetProfilesResponse><trt:Profiles token="profile_1" fixed="true">'
                "<tt:Name>main</tt:Name></trt:Profiles></trt:GetProfilesResponse>"
            )
        if path == "/onvif/ptz_service" and name == "GotoPreset":
            profile = op.findtext("{http://www.onvif.org/ver20/ptz/wsdl}ProfileToken")
            preset = op.findtext("{http://www.onvif.org/ver20/ptz/wsdl}PresetToken")
            if profile != "profile_1" or preset not in self.presets:
                return 400, FAULT.format(code="Sender", reason="no such preset")
            self.recalled.append((profile, preset))
            return 200, "<tptz:GotoPresetResponse/>"
        return 400, FAULT.format(code="Receiver", reason=f"{name} not supported")


@contextmanager
def onvif_camera(user: str = "admin", password: str = "cam-secret") -> Iterator[OnvifCamera]:
    cam = OnvifCamera(user, password)

    class Handler(BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            body = self.rfile.read(int(self.headers.get("Content-Length", 0)))
            status, payload = cam.answer(self.path, body)
            data = ENVELOPE.format(payload).encode()
            self.send_response(status)
            self.send_header("Content-Type", "application/soap+xml; charset=utf-8")
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            self.wfile.write(data)

        def log_message(self, *args: object) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", cam.port), Handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield cam
    finally:
        server.shutdown()
        server.server_close()
