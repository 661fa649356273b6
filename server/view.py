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
  ``max_upload_bytes``; the limit is enforced while the body streams in.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import orjson
from cross_web import AsyncHTTPRequestAdapter, HTTPException
from graphql import GraphQLError
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
from strawberry.types import ExecutionResult
from strawberry.types.execution import PreExecutionError
from strawberry.types.graphql import OperationType
from strawberry.types.unset import UNSET, UnsetType

from resolvers.viewer import viewer_of
from schema.context import Context, make_context
from schema.masking import INTERNAL_ERROR_CODE
from server.observability import new_request_id
from settings import Settings

GRAPHQL_RESPONSE_JSON = "application/graphql-response+json"
JSON = "application/json"
MULTIPART = "multipart/form-data"
PREFLIGHT_HEADERS = ("graphql-require-preflight", "apollo-require-preflight", "x-apollo-operation-name")
_UTF8 = ("utf-8", "utf8")
# The operation types each method may carry; any other is refused before validation.
HTTP_OPERATION_TYPES = {
    "GET": frozenset({OperationType.QUERY}),
    "POST": frozenset({OperationType.QUERY, OperationType.MUTATION}),
}


class HTTPError(HTTPException):
    def __init__(self, status_code: int, reason: str, headers: dict[str, str] | None = None) -> None:
        super().__init__(status_code, reason)
        self.headers = headers or {}


@dataclass
class ResponseFormat:
    """What the response will be, decided per request and read back by create_response."""

    media_type: str
    request_error_status: int = 400


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


class GraphQLView(GraphQL):
    """``POST``/``GET /graphql``, GraphiQL when enabled, WebSocket ``graphql-transport-ws``."""

    default_media_type = JSON  # when the request has no Accept header

    def __init__(self, schema: Schema, settings: Settings) -> None:
        super().__init__(
            schema,
            graphql_ide="graphiql" if settings.graphiql_enabled else None,
            multipart_uploads_enabled=True,
            subscription_protocols=(GRAPHQL_TRANSPORT_WS_PROTOCOL,),
        )
        self.max_body_bytes = settings.max_upload_bytes

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
        context.sign_in(await viewer_of(context.authorization))
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
        if isinstance(response_data, dict) and "data" not in response_data:
            internal = response_format.request_error_status >= 500
            if internal or response_format.media_type == GRAPHQL_RESPONSE_JSON:
                status = response_format.request_error_status
        response = Response(
            self.encode_json(response_data),
            status_code=status,
            media_type=f"{response_format.media_type}; charset=utf-8",
            headers={"Vary": "Accept"},
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
