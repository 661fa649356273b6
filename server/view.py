"""The GraphQL endpoint, speaking the GraphQL-over-HTTP specification.

Where strawberry's stock view departs from the specification, this one follows it:

- Responses are ``application/graphql-response+json`` or ``application/json``, chosen from
  ``Accept`` by q-value (``application/json`` when Accept is absent or a bare wildcard); 406
  when neither is acceptable. Content-Type always names ``charset=utf-8``.
- A request error (parse, validation, limits, variables, operation selection) has no ``data``
  entry; it is 400 under graphql-response+json and 200 under application/json. An internal error
  that kept execution from starting is 500 under both.
- Malformed requests get 400 with a GraphQL-shaped body; a POST body that is not
  ``application/json`` (or multipart) gets 415; a mutation over GET gets 405 with ``Allow``.
  Subscriptions are served over WebSocket only.
- Multipart uploads must carry ``GraphQL-Require-Preflight``, ``Apollo-Require-Preflight`` or
  ``X-Apollo-Operation-Name``: a browser sends a multipart form cross-site without a CORS
  preflight, but never with one of these headers. No request body may exceed
  ``max_upload_bytes``; the limit is enforced while the body streams in. A multipart body whose
  ``operations`` or ``map`` breaks the multipart request spec gets 400 saying what is wrong.
- Media types in Content-Type are compared without regard to case, as HTTP defines them.
- The database out of reach (docs/api.md 12) is 503 with ``Retry-After`` and ``SERVICE_UNAVAILABLE``,
  when it failed the request before anything was answered.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
from collections.abc import Callable, Coroutine
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import orjson
from cross_web import AsyncHTTPRequestAdapter, HTTPException, StarletteRequestAdapter
from graphql import GraphQLError
from starlette.datastructures import UploadFile
from starlette.exceptions import HTTPException as StarletteHTTPException
from starlette.formparsers import MultiPartException
from starlette.requests import Request
from starlette.responses import HTMLResponse, Response
from starlette.types import Receive, Scope, Send
from starlette.websockets import WebSocket
from strawberry import Schema
from strawberry.asgi import GraphQL
from strawberry.exceptions import ConnectionRejectionError, MissingQueryError
from strawberry.http import GraphQLHTTPResponse, GraphQLRequestData
from strawberry.http.parse_content_type import parse_content_type
from strawberry.schema.exceptions import CannotGetOperationTypeError, InvalidOperationTypeError
from strawberry.subscriptions import GRAPHQL_TRANSPORT_WS_PROTOCOL
from strawberry.subscriptions.protocols.graphql_transport_ws.handlers import BaseGraphQLTransportWSHandler
from strawberry.types import ExecutionResult
from strawberry.types.execution import PreExecutionError
from strawberry.types.graphql import OperationType
from strawberry.types.unset import UNSET, UnsetType

from resolvers.viewer import viewer_of
from schema.context import Context, make_context
from schema.masking import INTERNAL_ERROR_CODE, UNAVAILABLE_CODE, UNAVAILABLE_MESSAGE, is_unavailable
from server.observability import RETRY_AFTER_SECONDS, new_request_id
from services.common import notices
from settings import Settings

# A socket whose session has ended (A8). 4401 Unauthorized rather than 4403: graphql-ws clients
# take 4401 as final and do not reconnect with the dead token, as they would after 4403.
SESSION_ENDED_CLOSE = (4401, "Session ended")
GRAPHQL_RESPONSE_JSON = "application/graphql-response+json"
JSON = "application/json"
MULTIPART = "multipart/form-data"
PREFLIGHT_HEADERS = ("graphql-require-preflight", "apollo-require-preflight", "x-apollo-operation-name")
_UTF8 = ("utf-8", "utf8")
logger = logging.getLogger("shebao.errors")
# The operation types each method may carry; any other is refused before validation.
HTTP_OPERATION_TYPES = {
    "GET": frozenset({OperationType.QUERY}),
    "POST": frozenset({OperationType.QUERY, OperationType.MUTATION}),
}


class CaseInsensitiveRequestAdapter(StarletteRequestAdapter):
    """strawberry compares the Content-Type's media type as sent; HTTP says its case is no matter."""

    @property
    def content_type(self) -> str | None:
        value = super().content_type
        if value is None:
            return None
        media_type, separator, parameters = value.partition(";")  # a boundary keeps its case
        return media_type.strip().lower() + separator + parameters


class HTTPError(HTTPException):
    def __init__(self, status_code: int, reason: str, headers: dict[str, str] | None = None) -> None:
        super().__init__(status_code, reason)
        self.headers = headers or {}


@dataclass
class ResponseFormat:
    """What the response will be, decided per request and read back by create_response."""

    media_type: str
    request_error_status: int = 400
    unavailable: bool = False  # a dependency failed the whole request: 503


def negotiate(accept: str | None, default: str = JSON) -> str | None:
    """The response media type the Accept header prefers, or None when none is acceptable.

    Each type takes the q-value of its most specific matching range. On a tie an explicit
    graphql-response+json wins, while wildcards (curl's and browsers' ``*/*``) give
    application/json, the type older clients understand.
    """
    if accept is None or not accept.strip():
        return default
    ranges = []
    for part in accept.split(","):
        media_range, params = parse_content_type(part.strip())
        if not media_range:
            continue
        try:
            quality = float(params.get("q", "1"))
        except ValueError:
            quality = 0.0
        if params.get("charset", "utf-8").lower() not in _UTF8:
            quality = 0.0
        ranges.append((media_range.lower(), quality))

    candidates = []
    for media_type in (GRAPHQL_RESPONSE_JSON, JSON):
        matches = [
            (_specificity(media_range, media_type), quality)
            for media_range, quality in ranges
            if _specificity(media_range, media_type) >= 0
        ]
        if not matches:
            continue
        specificity, quality = max(matches)
        if quality > 0:
            explicit_preference = (media_type == GRAPHQL_RESPONSE_JSON) == (specificity == 2)
            candidates.append((quality, specificity, explicit_preference, media_type))
    return max(candidates)[-1] if candidates else None


def _specificity(media_range: str, media_type: str) -> int:
    """2 for an exact match, 1 for ``type/*``, 0 for ``*/*``, -1 for no match."""
    if media_range == media_type:
        return 2
    if media_range == media_type.split("/")[0] + "/*":
        return 1
    return 0 if media_range == "*/*" else -1


def is_request_error(result: ExecutionResult) -> bool:
    """True when execution never started, so the response must have no ``data`` entry.

    Variable coercion fails inside graphql-core's execute, which returns no data and errors
    without a path; a field error that nulls the whole result has a path.
    """
    if isinstance(result, PreExecutionError):
        return True
    return result.data is None and bool(result.errors) and all(e.path is None for e in result.errors)


def _is_internal(error: GraphQLError) -> bool:
    return (error.extensions or {}).get("code") == INTERNAL_ERROR_CODE


def nothing_answered_for_unavailability(result: ExecutionResult) -> bool:
    """True when a dependency out of reach left every root field unanswered. A root field that
    did answer (a mutation that committed) keeps the answer, with its errors, as 200."""
    if not any((error.extensions or {}).get("code") == UNAVAILABLE_CODE for error in result.errors or ()):
        return False
    return not any(value is not None for value in (result.data or {}).values())


class MultipartFiles:
    """The files of a multipart request put in place of their null placeholders in its
    operations (GraphQL multipart request spec), each step of each path checked on the way."""

    def __init__(self, form: Any) -> None:
        self.form = form

    def place(self, operations: Any, files_map: Any) -> Any:
        if not isinstance(files_map, dict):
            raise HTTPError(400, 'The multipart field `map` must be a JSON object such as {"0": ["variables.file"]}.')
        for name, paths in files_map.items():
            if not isinstance(paths, list) or not paths or not all(isinstance(path, str) for path in paths):
                raise HTTPError(
                    400,
                    f"The multipart `map` entry {json.dumps(name)} must be a non-empty list of paths "
                    'such as ["variables.file"].',
                )
            upload = self.form.get(name)
            if not isinstance(upload, UploadFile):
                raise HTTPError(
                    400,
                    f"The multipart `map` names the file part {json.dumps(name)}, which the request does not carry.",
                )
            for path in paths:
                self.put(operations, path, upload, name)
        return operations

    def put(self, operations: Any, path: str, upload: UploadFile, name: str) -> None:
        *steps, last = path.split(".")
        container = operations
        for step in steps:
            container = self.slot(container, step, path, name)
            if not isinstance(container, (dict, list)):
                raise self.nowhere(path, name)
        if isinstance(container, list):
            current = self.slot(container, last, path, name)  # an index inside the list
            key: int | str = int(last)
        else:
            current, key = container.get(last), last
        if current is not None:
            raise HTTPError(
                400,
                f"The multipart `map` path {json.dumps(path)} (file part {json.dumps(name)}) points at a value, "
                "not at the null that stands for a file in `operations`.",
            )
        container[key] = upload

    def slot(self, container: Any, step: str, path: str, name: str) -> Any:
        if isinstance(container, dict) and step in container:
            return container[step]
        if isinstance(container, list) and step.isascii() and step.isdigit() and int(step) < len(container):
            return container[int(step)]
        raise self.nowhere(path, name)

    @staticmethod
    def nowhere(path: str, name: str) -> HTTPError:
        return HTTPError(
            400,
            f"The multipart `map` path {json.dumps(path)} (file part {json.dumps(name)}) leads to nothing in "
            "`operations`: a path names its way to a null variable, such as variables.file or variables.files.0.",
        )


def limit_body(receive: Receive, max_bytes: int) -> Receive:
    """``receive`` that fails once the body grows past ``max_bytes``, before it is all read."""
    received = 0

    async def receive_within_limit() -> dict[str, Any]:
        nonlocal received
        message = await receive()
        if message["type"] == "http.request":
            received += len(message.get("body", b""))
            if received > max_bytes:
                raise _body_too_large(max_bytes)
        return message

    return receive_within_limit


def _body_too_large(max_bytes: int) -> HTTPError:
    return HTTPError(413, f"The request body exceeds the limit of {max_bytes} bytes.")


GRAPHIQL = Path(__file__).resolve().parent / "graphiql"
GRAPHIQL_ASSETS = GRAPHIQL / "assets"  # served at /graphiql/
GRAPHIQL_PAGE = (GRAPHIQL / "index.html").read_text(encoding="utf-8")


class SessionBoundSocket(BaseGraphQLTransportWSHandler[Context, Any]):
    """A graphql-transport-ws socket bound to the session its connection_init signed in with
    (A8): the session store is asked before each message sent (one indexed query, a message being
    rarer than the polls that produce it), so that nothing is sent once it has ended, even if no
    notice came; once it has, or a notice says so, the socket closes with 4401."""

    view: GraphQLView
    context: Context

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.session_id: int | None = None
        self.closing = False

    async def handle(self) -> None:
        try:
            await super().handle()
        finally:
            self.view.forget_socket(self)

    async def handle_connection_init(self, message: Any) -> None:
        await super().handle_connection_init(message)
        if self.connection_acknowledged and self.context.viewer is not None:
            self.session_id = self.context.viewer.session_id
            self.view.hold_socket(self)

    async def send_message(self, message: Any) -> None:
        if self.connection_acknowledged and not await self.context.still_signed_in():
            await self.close_for_ended_session()
            return  # dropped: an operation task sending it is cancelled at its next await
        await super().send_message(message)

    def session_ended(self) -> None:
        """A notice: signed out now (nothing more is sent), closed as soon as the loop allows."""
        self.context.end_session()
        self.view.in_background(self.close_for_ended_session())

    async def close_if_ended(self) -> None:
        if not await self.context.still_signed_in():
            await self.close_for_ended_session()

    async def close_for_ended_session(self) -> None:
        if self.closing:
            return
        self.closing = True
        # Closed first, then the operations cancelled: one of them may be the task closing it.
        with contextlib.suppress(Exception):  # the client may have gone already
            await self.websocket.close(*SESSION_ENDED_CLOSE)
        for operation_id in list(self.operations):
            await self.cleanup_operation(operation_id)


class GraphQLView(GraphQL):
    """``POST``/``GET /graphql``, GraphiQL when enabled, WebSocket ``graphql-transport-ws``."""

    default_media_type = JSON  # when the request has no Accept header
    request_adapter_class = CaseInsensitiveRequestAdapter
    graphql_transport_ws_handler_class = SessionBoundSocket

    def __init__(self, schema: Schema, settings: Settings) -> None:
        super().__init__(
            schema,
            graphql_ide="graphiql" if settings.graphiql_enabled else None,
            multipart_uploads_enabled=True,
            subscription_protocols=(GRAPHQL_TRANSPORT_WS_PROTOCOL,),
        )
        self.max_body_bytes = settings.max_upload_bytes
        self._sockets: dict[int | None, set[SessionBoundSocket]] = {}  # by session id
        self._background: set[asyncio.Task] = set()

    def listen_for_ended_sessions(self) -> Callable[[], None]:
        """Close this process's sockets of the sessions a notice says have ended (A8); returns
        the function that stops listening."""
        return notices.subscribe(notices.SESSIONS_ENDED, self.sessions_ended, on_gap=self.check_every_socket)

    def sessions_ended(self, session_ids: frozenset[int]) -> None:
        for session_id in session_ids:
            for socket in tuple(self._sockets.get(session_id, ())):
                socket.session_ended()

    def check_every_socket(self) -> None:
        """Notices may have been lost: every socket asks the session store."""
        for held in tuple(self._sockets.values()):
            for socket in tuple(held):
                self.in_background(socket.close_if_ended())

    def hold_socket(self, socket: SessionBoundSocket) -> None:
        self._sockets.setdefault(socket.session_id, set()).add(socket)

    def forget_socket(self, socket: SessionBoundSocket) -> None:
        held = self._sockets.get(socket.session_id, set())
        held.discard(socket)
        if not held:
            self._sockets.pop(socket.session_id, None)

    def in_background(self, work: Coroutine[Any, Any, None]) -> None:
        task = asyncio.create_task(work)
        self._background.add(task)  # held, lest it be collected before it has run
        task.add_done_callback(self._background.discard)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http":
            receive = limit_body(receive, self.max_body_bytes)
        await super().__call__(scope, receive, send)

    async def render_graphql_ide(self, request: Request) -> HTMLResponse:
        """The hall's own GraphiQL page, whose assets it serves itself (server/graphiql/)."""
        return HTMLResponse(GRAPHIQL_PAGE)

    async def get_context(self, request: Request | WebSocket, response: Response | WebSocket) -> Context:
        request_id = getattr(request.state, "request_id", None) or new_request_id()
        return await make_context(request, response, request_id)

    async def on_ws_connect(self, context: Context) -> UnsetType | None | dict[str, object]:
        """A WebSocket signs in with the token in connection_init ({"Authorization": "Bearer ..."})."""
        params = context.connection_params if isinstance(context.connection_params, dict) else {}
        authorization = params.get("Authorization") or params.get("authorization")
        context.authorization = authorization if isinstance(authorization, str) else None
        context.authenticate = viewer_of  # and so again before each operation and each message
        await context.sign_in_again()
        if context.viewer is None:
            raise ConnectionRejectionError()  # the socket closes with 4403 Forbidden
        return UNSET

    async def run(self, request: Request | WebSocket, context: Any = UNSET, root_value: Any = UNSET) -> Any:
        if self.is_websocket_request(request):
            return await super().run(request, context, root_value)
        media_type = negotiate(request.headers.get("accept"), self.default_media_type)
        request.state.response_format = ResponseFormat(media_type or JSON)
        try:
            if media_type is None and not self.should_render_graphql_ide(self.request_adapter_class(request)):
                raise HTTPError(406, f"Not Acceptable: this endpoint responds with {GRAPHQL_RESPONSE_JSON} or {JSON}.")
            declared_length = request.headers.get("content-length", "")
            if declared_length.isdigit() and int(declared_length) > self.max_body_bytes:
                raise _body_too_large(self.max_body_bytes)
            return await super().run(request, context, root_value)
        except HTTPException as error:
            return self.error_response(request, error)
        except Exception as error:
            if not is_unavailable(error):
                raise
            # Before execution (signing the viewer in): execution reports its own, masked
            logger.warning("Service unavailable: %s: %s", type(error).__name__, error)
            return self.unavailable_response(request)

    def unavailable_response(self, request: Request) -> Response:
        request_id = getattr(request.state, "request_id", None) or new_request_id()
        error = {"message": UNAVAILABLE_MESSAGE, "extensions": {"code": UNAVAILABLE_CODE, "requestId": request_id}}
        return Response(
            self.encode_json({"errors": [error]}),
            status_code=503,
            media_type=f"{request.state.response_format.media_type}; charset=utf-8",
            headers={"Vary": "Accept", "Retry-After": str(RETRY_AFTER_SECONDS)},
        )

    def error_response(self, request: Request, error: HTTPException) -> Response:
        headers = {"Vary": "Accept", **getattr(error, "headers", {})}
        if error.status_code == 405:
            headers.setdefault("Allow", "GET, POST")
        return Response(
            self.encode_json({"errors": [{"message": error.reason}]}),
            status_code=error.status_code,
            media_type=f"{request.state.response_format.media_type}; charset=utf-8",
            headers=headers,
        )

    async def get_sub_response(self, request: Request | WebSocket) -> Response:
        sub_response = await super().get_sub_response(request)
        # create_response never sees the request; the sub-response is its per-request channel.
        sub_response.response_format = getattr(request.state, "response_format", None)  # type: ignore[attr-defined]
        return sub_response

    def decode_json(self, data: str | bytes) -> object:
        try:
            value = super().decode_json(data)
            # Lone surrogates ("\udfff") decode, but no database or encoder downstream takes them.
            json.dumps(value, ensure_ascii=False).encode("utf-8")
        except RecursionError:
            raise HTTPError(400, "The JSON is nested too deeply.") from None
        except UnicodeEncodeError:
            raise HTTPError(400, "The JSON holds text that is not valid Unicode (a lone surrogate).") from None
        return value

    def parse_json(self, data: str | bytes) -> Any:
        value = super().parse_json(data)
        if not isinstance(value, (dict, list)):
            raise HTTPException(400, "Expected a JSON object.")
        return value

    async def parse_multipart(self, request: AsyncHTTPRequestAdapter) -> Any:
        try:
            form = (await request.get_form_data()).form
        except (StarletteHTTPException, MultiPartException, ValueError) as error:
            detail = getattr(error, "detail", None) or getattr(error, "message", None) or str(error)
            raise HTTPError(400, f"The multipart body cannot be read: {detail}") from None
        if "operations" not in form:
            raise HTTPError(400, "The multipart request has no `operations` field (the GraphQL request as JSON).")
        operations = self.multipart_json(form, "operations")
        if not isinstance(operations, (dict, list)):
            raise HTTPError(400, "The multipart field `operations` must be a JSON object: the GraphQL request.")
        return MultipartFiles(form).place(operations, self.multipart_json(form, "map"))

    def multipart_json(self, form: Any, field: str) -> Any:
        text = form.get(field, "{}")
        if not isinstance(text, str):
            raise HTTPError(400, f"The multipart field `{field}` must be a text part holding JSON, not a file.")
        try:
            return self.decode_json(text)
        except ValueError:  # JSONDecodeError
            raise HTTPError(400, f"The multipart field `{field}` is not valid JSON.") from None

    async def parse_http_body(self, request: AsyncHTTPRequestAdapter) -> GraphQLRequestData | list[GraphQLRequestData]:
        if request.method == "POST":
            media_type, params = parse_content_type(request.content_type or "")
            if params.get("charset", "utf-8").lower() not in _UTF8 or media_type not in (JSON, MULTIPART):
                raise HTTPError(415, f"Unsupported Media Type: send Content-Type: {JSON}.")
            if media_type == MULTIPART and not any(name in request.headers for name in PREFLIGHT_HEADERS):
                raise HTTPError(
                    400,
                    "Multipart requests must carry one of the headers "
                    "GraphQL-Require-Preflight, Apollo-Require-Preflight or X-Apollo-Operation-Name "
                    "(protection against cross-site request forgery).",
                )
        data = await super().parse_http_body(request)
        for item in data if isinstance(data, list) else [data]:
            if item.operation_name == "":
                item.operation_name = None  # the spec reads an empty operationName as absent
            elif item.operation_name is not None and not isinstance(item.operation_name, str):
                raise HTTPException(400, "The GraphQL operation's `operationName` must be a string or null.")
        return data

    async def execute_single(
        self,
        request: Request,
        request_adapter: AsyncHTTPRequestAdapter,
        sub_response: Response,
        context: Context,
        root_value: Any,
        request_data: GraphQLRequestData,
    ) -> ExecutionResult:
        method = request_adapter.method
        try:
            return await self.schema.execute(
                request_data.query,
                root_value=root_value,
                variable_values=request_data.variables,
                context_value=context,
                operation_name=request_data.operation_name,
                allowed_operation_types=HTTP_OPERATION_TYPES[method],
                operation_extensions=request_data.extensions,
            )
        except MissingQueryError as error:
            raise HTTPException(400, "No GraphQL query found in the request.") from error
        except CannotGetOperationTypeError as error:
            # GetOperation failed: a request error with a GraphQL body, like a validation error
            return PreExecutionError(data=None, errors=[GraphQLError(error.as_http_error_reason())])
        except InvalidOperationTypeError as error:
            if error.operation_type is OperationType.MUTATION:
                raise HTTPError(405, "Mutations are only accepted over POST.", {"Allow": "POST"}) from error
            message = "Subscriptions are served over WebSocket (graphql-transport-ws), not over HTTP."
            return PreExecutionError(data=None, errors=[GraphQLError(message)])

    async def process_result(self, request: Request, result: ExecutionResult) -> GraphQLHTTPResponse:
        response = await super().process_result(request, result)
        if nothing_answered_for_unavailability(result):
            request.state.response_format.unavailable = True
        if is_request_error(result):
            del response["data"]
            if any(_is_internal(error) for error in result.errors or ()):
                request.state.response_format.request_error_status = 500
        return response

    def create_response(
        self, response_data: GraphQLHTTPResponse | list[GraphQLHTTPResponse], sub_response: Response
    ) -> Response:
        response_format = getattr(sub_response, "response_format", None) or ResponseFormat(JSON)
        # The status follows the specification; one set on the sub-response would break its MUSTs.
        status = 200
        headers = {"Vary": "Accept"}
        if isinstance(response_data, dict) and "data" not in response_data:
            internal = response_format.request_error_status >= 500
            if internal or response_format.media_type == GRAPHQL_RESPONSE_JSON:
                status = response_format.request_error_status
        if response_format.unavailable:  # docs/api.md 12: never a 500, and say when to come back
            status = 503
            headers["Retry-After"] = str(RETRY_AFTER_SECONDS)
        response = Response(
            self.encode_json(response_data),
            status_code=status,
            media_type=f"{response_format.media_type}; charset=utf-8",
            headers=headers,
        )
        response.headers.raw.extend(sub_response.headers.raw)
        if sub_response.background:
            response.background = sub_response.background
        return response

    def encode_json(self, data: object) -> str:
        # Compact, Chinese as is (half the bytes of \u escapes), by orjson: json.dumps took a
        # twentieth of the time of a page of 50 persons with their months. Text, not bytes: a
        # websocket message must be a text frame.
        return orjson.dumps(data).decode()
