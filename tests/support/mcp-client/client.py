"""Drives a campuscore /mcp endpoint with the official MCP Python SDK, as an assistant would.

    client.py token URL TOKEN STEPS.json [auto|legacy]
    client.py oauth URL COOKIE_HEADER STEPS.json [allow-writes|read-only] [CONNECTION_IDS_JSON]

`token` sends a personal access token as the bearer. `oauth` signs in the way an assistant
added by URL does: the 401's resource metadata, the authorization server's metadata,
client registration, the authorization request with PKCE, the consent page (posted by a
"browser" that carries the user's session cookie), the token request, and refreshes.

`auto` lets the SDK pick the protocol era (it asks `server/discover` first); `legacy` uses
the `initialize` handshake. STEPS.json is a list of {"op": "list"} and
{"op": "call", "name": ..., "arguments": {...}}; every step prints one JSON line.
"""

import asyncio
import json
import re
import sys
from html import unescape
from urllib.parse import parse_qs, urlencode, urljoin, urlparse

import httpx2
from mcp import Client, ClientSession
from mcp.client.streamable_http import streamable_http_client

REDIRECT_URI = "http://127.0.0.1:9/callback"  # never listened on: the code is read off the redirect


def emit(**fields) -> None:
    print(json.dumps(fields, default=str), flush=True)


def tool_entry(tool) -> dict:
    annotations = tool.annotations.model_dump(by_alias=True, exclude_none=True) if tool.annotations else {}
    return {
        "name": tool.name,
        "annotations": annotations,
        "has_output_schema": tool.output_schema is not None,
        "input_schema": tool.input_schema,
    }


async def run_steps(session, steps) -> None:
    for step in steps:
        if step["op"] == "list":
            tools = await session.list_tools()
            emit(op="list", tools=[tool_entry(t) for t in tools.tools])
        elif step["op"] == "call":
            try:
                result = await session.call_tool(step["name"], step.get("arguments", {}))
                text = " ".join(c.text for c in result.content if getattr(c, "type", "") == "text")
                emit(op="call", name=step["name"], is_error=bool(result.is_error),
                     structured=result.structured_content, text=text)
            except Exception as e:  # a JSON-RPC error (e.g. an unknown tool)
                emit(op="call", name=step["name"], protocol_error=str(e))
        else:
            raise SystemExit(f"unknown step {step!r}")


async def with_token(url: str, token: str, steps, mode: str) -> None:
    async with httpx2.AsyncClient(headers={"Authorization": f"Bearer {token}"}, timeout=60) as http:
        if mode == "legacy":
            async with streamable_http_client(url, http_client=http) as (read, write):
                async with ClientSession(read, write) as session:
                    init = await session.initialize()
                    emit(op="hello", protocol=str(init.protocol_version), server=init.server_info.name)
                    await run_steps(session, steps)
        else:
            async with Client(streamable_http_client(url, http_client=http)) as client:
                emit(op="hello", protocol=str(client.protocol_version))
                await run_steps(client, steps)


async def with_oauth(url: str, cookie: str, steps, allow_writes: bool, connections) -> None:
    from mcp.client.auth import AuthorizationCodeResult, OAuthClientProvider, TokenStorage
    from mcp.shared.auth import OAuthClientMetadata

    class Memory(TokenStorage):
        def __init__(self):
            self.tokens = None
            self.client_info = None

        async def get_tokens(self):
            return self.tokens

        async def set_tokens(self, tokens):
            self.tokens = tokens

        async def get_client_info(self):
            return self.client_info

        async def set_client_info(self, client_info):
            self.client_info = client_info

    pending: dict = {}

    async def redirect_handler(authorization_url: str) -> None:
        # The user's browser: open the consent page with their session, allow, and read the
        # code off the redirect back to the assistant.
        pending["future"] = asyncio.get_running_loop().create_future()
        params = {k: v[0] for k, v in parse_qs(urlparse(authorization_url).query).items()}
        emit(op="authorize", params=params)
        async with httpx2.AsyncClient(headers={"Cookie": cookie}, follow_redirects=False, timeout=60) as browser:
            page = await browser.get(authorization_url)
            assert page.status_code == 200, (page.status_code, page.text[:500])
            emit(op="consent", page=page.text)
            form = re.search(r'<form[^>]*id="consent"[^>]*>(.*?)</form>', page.text, re.S)
            assert form, "no consent form"
            action = unescape(re.search(r'<form[^>]*id="consent"[^>]*action="([^"]+)"', page.text).group(1))
            fields = []
            for m in re.finditer(r'<input([^>]*)>', form.group(1)):
                attrs = dict(re.findall(r'(\w[\w-]*)="([^"]*)"', m.group(1)))
                name, value, kind = attrs.get("name"), unescape(attrs.get("value", "")), attrs.get("type", "text")
                if not name:
                    continue
                if kind == "checkbox":
                    if name == "write" and not allow_writes:
                        continue
                    if name == "connection" and connections is not None and int(value) not in connections:
                        continue
                    if name != "write" and name != "connection" and "checked" not in m.group(1):
                        continue
                fields.append((name, value))
            fields.append(("decision", "allow"))
            answer = await browser.post(
                urljoin(str(page.url), action),
                content=urlencode(fields).encode(),
                headers={"Content-Type": "application/x-www-form-urlencoded"},
            )
            assert answer.status_code in (302, 303), (answer.status_code, answer.text[:500])
            location = answer.headers["location"]
        assert location.startswith(REDIRECT_URI), location
        query = {k: v[0] for k, v in parse_qs(urlparse(location).query).items()}
        pending["future"].set_result(AuthorizationCodeResult(code=query["code"], state=query.get("state"), iss=query.get("iss")))

    async def callback_handler():
        return await pending["future"]

    storage = Memory()
    provider = OAuthClientProvider(
        server_url=url,
        client_metadata=OAuthClientMetadata(
            client_name="Test Assistant",
            redirect_uris=[REDIRECT_URI],
            grant_types=["authorization_code", "refresh_token"],
            response_types=["code"],
            token_endpoint_auth_method="none",
        ),
        storage=storage,
        redirect_handler=redirect_handler,
        callback_handler=callback_handler,
    )
    async with httpx2.AsyncClient(auth=provider, timeout=60) as http:
        async with Client(streamable_http_client(url, http_client=http)) as client:
            emit(op="hello", protocol=str(client.protocol_version))
            await run_steps(client, steps)
    emit(op="signed_in", client_id=storage.client_info.client_id,
         access_token=storage.tokens.access_token, refresh_token=storage.tokens.refresh_token)


def main() -> None:
    kind, url = sys.argv[1], sys.argv[2]
    with open(sys.argv[4]) as f:
        steps = json.load(f)
    if kind == "token":
        mode = sys.argv[5] if len(sys.argv) > 5 else "auto"
        asyncio.run(with_token(url, sys.argv[3], steps, mode))
    elif kind == "oauth":
        allow_writes = len(sys.argv) > 5 and sys.argv[5] == "allow-writes"
        connections = json.loads(sys.argv[6]) if len(sys.argv) > 6 else None
        asyncio.run(with_oauth(url, sys.argv[3], steps, allow_writes, connections))
    else:
        raise SystemExit(__doc__)


if __name__ == "__main__":
    main()
