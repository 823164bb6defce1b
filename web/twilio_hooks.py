"""Twilio's webhooks: delivery status callbacks for SMS and calls, and inbound SMS.

Every request must carry a valid ``X-Twilio-Signature``. The URL it is checked against is the
configured public base URL (``ARREARS_PUBLIC_BASE_URL``) followed by the path and query string
this service received, never a URL rebuilt from the Host or X-Forwarded-* headers: behind a
TLS-terminating proxy the request arrives over plain HTTP, and those headers are whatever the
client chose to send. Anything that cannot be verified (no token, no public base URL, no header,
a body that is not a form, a wrong signature) is refused with 403 and the reason is logged.

The form body is read once and the exact parameters Twilio sent, repeated names included, are
both what is verified and what the handlers read.
"""

from __future__ import annotations

import logging
from typing import Annotated, NoReturn
from urllib.parse import parse_qsl, quote

from fastapi import APIRouter, Depends, HTTPException, Request, Response
from starlette.datastructures import ImmutableMultiDict
from twilio.request_validator import RequestValidator
from twilio.twiml.messaging_response import MessagingResponse

from arrears.wiring import App
from cases.deliveries import apply_status, record_inbound
from web import arrears_app
from web.security import TWILIO_SIGNATURE, declares

log = logging.getLogger(__name__)

SIGNATURE_HEADER = "X-Twilio-Signature"
# Present when a Webhook Rule makes Twilio sign with a Webhook Setting's shared key instead of
# the account auth token; this service holds only the auth token.
SIGNATURE_SETTINGS_HEADER = "X-Twilio-Webhooks-Signature-Settings"
FORM_TYPE = "application/x-www-form-urlencoded"
MAX_BODY_BYTES = 64 * 1024  # Twilio's callbacks are a few hundred bytes

TwilioParams = ImmutableMultiDict[str, str]
ArrearsApp = Annotated[App, Depends(arrears_app)]


def _refuse(request: Request, reason: str) -> NoReturn:
    log.warning("Twilio webhook %s %s refused: %s", request.method, request.url.path, reason)
    raise HTTPException(status_code=403, detail="forbidden")


def signed_url(public_base_url: str, request: Request) -> str:
    """The URL Twilio signed: the public base URL + the path and query string as received."""
    raw_path = request.scope.get("raw_path")
    if isinstance(raw_path, bytes) and raw_path:
        path = raw_path.decode("latin-1").split("?", 1)[0]
    else:
        path = quote(request.scope["path"], safe="/%:@!$&'()*+,;=-._~")
    query = request.scope.get("query_string", b"").decode("latin-1")
    return public_base_url.rstrip("/") + path + (f"?{query}" if query else "")


async def _read_body(request: Request) -> bytes:
    declared = request.headers.get("content-length", "")
    if declared.isdigit() and int(declared) > MAX_BODY_BYTES:
        raise HTTPException(status_code=413, detail="request body too large")
    body = bytearray()
    async for chunk in request.stream():
        body += chunk
        if len(body) > MAX_BODY_BYTES:
            raise HTTPException(status_code=413, detail="request body too large")
    return bytes(body)


@declares(TWILIO_SIGNATURE)  # the routes' access; it also exempts them from CSRF tokens
async def verified_params(request: Request, app: ArrearsApp) -> TwilioParams:
    """The request's form parameters, once its Twilio signature has been verified (else 403)."""
    settings = app.settings
    token = settings.twilio_auth_token.get_secret_value() if settings.twilio_auth_token else ""
    if not token:
        _refuse(request, "TWILIO_AUTH_TOKEN is not configured, so no signature can be checked")
    if not settings.public_base_url:
        _refuse(
            request, "ARREARS_PUBLIC_BASE_URL is not configured, so no signature can be checked"
        )
    signature = request.headers.get(SIGNATURE_HEADER, "").strip()
    if not signature:
        _refuse(request, f"no {SIGNATURE_HEADER} header")
    if request.headers.get(SIGNATURE_SETTINGS_HEADER):
        _refuse(
            request,
            f"signed with a Webhook Setting's shared key ({SIGNATURE_SETTINGS_HEADER}); only "
            "the account auth token is configured: remove the Webhook Rule for this URL",
        )
    content_type = request.headers.get("content-type", "").split(";", 1)[0].strip().lower()
    if content_type != FORM_TYPE:
        _refuse(request, f"the body is {content_type or 'untyped'}, not {FORM_TYPE}")
    body = await _read_body(request)
    try:
        pairs = parse_qsl(body.decode("utf-8"), keep_blank_values=True, errors="strict")
    except ValueError:  # UnicodeDecodeError included
        _refuse(request, "the form body is not valid UTF-8")
    params: TwilioParams = ImmutableMultiDict(pairs)
    url = signed_url(settings.public_base_url, request)
    if not RequestValidator(token).validate(url, params, signature):
        _refuse(request, f"the signature does not match the parameters sent to {url}")
    return params


VerifiedParams = Annotated[TwilioParams, Depends(verified_params)]

# The router-level dependency makes every route here verified, including ones added later;
# FastAPI caches it per request, so the endpoints' own VerifiedParams reuse the same result.
router = APIRouter(prefix="/twilio", tags=["twilio"], dependencies=[Depends(verified_params)])


def _first(params: TwilioParams, *names: str) -> str:
    for name in names:
        value = params.get(name, "").strip()
        if value:
            return value
    return ""


def _error_code(params: TwilioParams) -> int | None:
    raw = params.get("ErrorCode", "").strip()
    return int(raw) if raw.isdigit() else None


@router.post("/status", status_code=204, response_class=Response)
def status_callback(params: VerifiedParams, app: ArrearsApp) -> Response:
    """A message's or call's new status. Unknown SIDs and stale statuses are accepted as no-ops,
    so that Twilio does not retry them."""
    if _first(params, "MessageSid", "SmsSid"):
        sid = _first(params, "MessageSid", "SmsSid")
        status = _first(params, "MessageStatus", "SmsStatus")
    else:
        sid = _first(params, "CallSid")
        status = _first(params, "CallStatus")
    if not sid or not status:
        log.warning("Twilio status callback without a SID or a status: ignored")
        return Response(status_code=204)
    with app.session() as session:
        outcome = apply_status(
            session,
            provider_id=sid,
            status=status,
            error_code=_error_code(params),
            on_date=app.today(),
        )
    if outcome.notice_id is None:
        log.info("Twilio status %s for unknown SID %s: ignored", status, sid)
    elif outcome.changed:
        log.info("notice %s: %s (%s)", outcome.notice_id, outcome.status, sid)
    return Response(status_code=204)


@router.post("/inbound", response_class=Response)
def inbound_sms(params: VerifiedParams, app: ArrearsApp) -> Response:
    """An SMS sent to the agency's number: opt-out / opt-in words, or a reply for the case.

    The answer is an empty TwiML document: the agency sends no automatic reply.
    """
    from_number = _first(params, "From")
    if from_number:
        with app.session() as session:
            outcome = record_inbound(
                session,
                from_number=from_number,
                body=params.get("Body", ""),
                on_date=app.today(),
            )
        log.info(
            "inbound SMS %s: %s, %d employer(s)",
            _first(params, "MessageSid"),
            outcome.action,
            outcome.employers,
        )
    return Response(content=str(MessagingResponse()), media_type="text/xml")
