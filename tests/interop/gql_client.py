"""Rolodex against a real third-party GraphQL client: Python `gql` (PyPI), run by
tests/it/interop_gql.rs.

Environment: ROLODEX_URL (http://127.0.0.1:PORT) and ROLODEX_TOKEN (a bearer token).

1. Without credentials the server answers 401 with an UNAUTHENTICATED error body, which gql
   reports (TransportQueryError).
2. With the token: introspection (fetch_schema_from_transport=True), so gql validates every
   document below against the server's schema before sending it.
3. A query (viewer, address books) and a createContact mutation over HTTP (aiohttp).
4. The subscription contactChanged(addressBookId:) over WebSockets, once per protocol
   (graphql-transport-ws and the older graphql-ws), the token in the connection_init payload;
   contacts are created over HTTP until the subscriber receives one of them.

Prints one JSON object on stdout for the Rust test to assert on; any failure is a traceback on
stderr and exit status 1.
"""

import asyncio
import json
import os
import sys

import aiohttp
from gql import Client, GraphQLRequest, gql
from gql.transport.aiohttp import AIOHTTPTransport
from gql.transport.exceptions import TransportQueryError, TransportServerError
from gql.transport.websockets import WebsocketsTransport

URL = os.environ["ROLODEX_URL"].rstrip("/")
TOKEN = os.environ["ROLODEX_TOKEN"]
HTTP_URL = URL + "/graphql"
WS_URL = URL.replace("http://", "ws://", 1).replace("https://", "wss://", 1) + "/graphql/ws"
AUTH = {"Authorization": "Bearer " + TOKEN}

VIEWER = gql(
    """
    query Viewer {
      viewer { name addressBooks { id displayName } }
    }
    """
)

CREATE = gql(
    """
    mutation Create($book: ID, $input: ContactInput!) {
      createContact(addressBookId: $book, input: $input) {
        etag
        contact { id displayName emails { email } phoneNumbers { number normalized } }
      }
    }
    """
)

SEARCH = gql(
    """
    query Search($q: String!) {
      contacts(first: 5, search: $q) { totalCount edges { node { id displayName } } }
    }
    """
)

CHANGED = gql(
    """
    subscription Changed($book: ID!) {
      contactChanged(addressBookId: $book) {
        operation contactId changeToken contact { displayName }
      }
    }
    """
)

# How long one subscription may take to deliver an event before the script gives up.
SUBSCRIPTION_DEADLINE = 30.0


async def unauthenticated():
    """What gql makes of a request without credentials, and the HTTP status behind it."""
    seen = {}
    transport = AIOHTTPTransport(url=HTTP_URL)
    try:
        async with Client(transport=transport, fetch_schema_from_transport=True):
            pass
        raise AssertionError("introspection without credentials succeeded")
    except TransportQueryError as error:
        # The 401 carries a GraphQL error body, which gql reads.
        seen["gqlError"] = type(error).__name__
        seen["code"] = ((error.errors or [{}])[0].get("extensions") or {}).get("code")
    except TransportServerError as error:
        seen["gqlError"] = type(error).__name__
        seen["code"] = error.code
    async with aiohttp.ClientSession() as http:
        async with http.post(HTTP_URL, json={"query": "{ viewer { name } }"}) as response:
            seen["httpStatus"] = response.status
            seen["wwwAuthenticate"] = response.headers.getall("WWW-Authenticate", [])
    return seen


async def create(session, book, input):
    return await session.execute(
        GraphQLRequest(CREATE, variable_values={"book": book, "input": input})
    )


async def subscription_event(schema, http_session, book, protocol):
    """Subscribes over `protocol`, then creates contacts over HTTP until an event for one of
    them arrives (a change committed before the server registered the subscription is not
    delivered, so the first ones may be missed)."""
    transport = WebsocketsTransport(
        url=WS_URL,
        init_payload=AUTH,
        subprotocols=[protocol],
    )
    events = asyncio.Queue()
    prefix = "Live %s " % protocol
    async with Client(transport=transport, schema=schema) as ws_session:
        negotiated = transport.subprotocol

        async def consume():
            try:
                async for result in ws_session.subscribe(
                    GraphQLRequest(CHANGED, variable_values={"book": book})
                ):
                    await events.put(result)
            except Exception as error:  # surfaced by the loop below
                await events.put(error)

        task = asyncio.create_task(consume())
        loop = asyncio.get_running_loop()
        deadline = loop.time() + SUBSCRIPTION_DEADLINE
        sent = []
        try:
            while True:
                name = "%s%d" % (prefix, len(sent) + 1)
                await create(http_session, book, {"displayName": name})
                sent.append(name)
                try:
                    event = await asyncio.wait_for(events.get(), 1.0)
                except asyncio.TimeoutError:
                    if loop.time() > deadline:
                        raise AssertionError(
                            "no %s event within %ss (sent %s)"
                            % (protocol, SUBSCRIPTION_DEADLINE, sent)
                        )
                    continue
                if isinstance(event, Exception):
                    raise event
                changed = event["contactChanged"]
                if (changed.get("contact") or {}).get("displayName", "").startswith(prefix):
                    return {"protocol": negotiated, "sent": sent, "event": changed}
        finally:
            task.cancel()
            try:
                await task
            except (asyncio.CancelledError, Exception):
                pass


async def main():
    output = {"client": "gql", "unauthenticated": await unauthenticated()}

    transport = AIOHTTPTransport(url=HTTP_URL, headers=AUTH)
    client = Client(transport=transport, fetch_schema_from_transport=True)
    async with client as session:
        schema = client.schema
        assert schema is not None, "introspection gave no schema"
        output["schemaTypes"] = sorted(
            name for name in schema.type_map if not name.startswith("__")
        )
        output["subscriptionFields"] = sorted(schema.subscription_type.fields)
        assert "Contact" in schema.type_map, output["schemaTypes"]

        viewer = (await session.execute(VIEWER))["viewer"]
        output["viewer"] = viewer
        book = viewer["addressBooks"][0]["id"]

        created = await create(
            session,
            book,
            {
                "firstName": "Grace",
                "lastName": "Hopper",
                "emails": [{"email": "grace@example.org"}],
                "phoneNumbers": [{"number": "+1 (202) 555-0142"}],
            },
        )
        output["created"] = created["createContact"]

        found = await session.execute(
            GraphQLRequest(SEARCH, variable_values={"q": "2025550142"})
        )
        output["search"] = found["contacts"]

        output["subscriptions"] = {}
        for protocol in (
            WebsocketsTransport.GRAPHQLWS_SUBPROTOCOL,
            WebsocketsTransport.APOLLO_SUBPROTOCOL,
        ):
            output["subscriptions"][protocol] = await subscription_event(
                schema, session, book, protocol
            )

    json.dump(output, sys.stdout)
    sys.stdout.write("\n")


if __name__ == "__main__":
    asyncio.run(main())
