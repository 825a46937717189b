// Rolodex's GraphiQL playground: starts GraphiQL (loaded from /graphql/assets/, no CDN) against
// this server. Queries and mutations go to POST /graphql, subscriptions to ws(s)://<host>/graphql/ws.
// The headers editor is open with an Authorization placeholder: paste a token from
// `rolodex token create NAME` there and the schema (docs explorer) is fetched again with it.
(function () {
  'use strict';

  var root = document.getElementById('graphiql');
  if (typeof React === 'undefined' || typeof ReactDOM === 'undefined' || typeof GraphiQL === 'undefined') {
    root.textContent = 'The playground scripts did not load (see the browser console).';
    return;
  }

  var endpoint = new URL('/graphql', window.location.href);
  var subscriptionUrl = new URL('/graphql/ws', window.location.href);
  subscriptionUrl.protocol = subscriptionUrl.protocol === 'https:' ? 'wss:' : 'ws:';

  var PLACEHOLDER = 'Bearer <token from rolodex token create>';
  var DEFAULT_HEADERS = JSON.stringify({ Authorization: PLACEHOLDER }, null, 2);
  var DEFAULT_QUERY = [
    '# Rolodex GraphQL playground',
    '#',
    '# 1. Create a token: rolodex token create <user>',
    '# 2. Headers tab below:',
    '#    {"Authorization": "Bearer <token>"}',
    '#    (the Docs explorer then loads with it)',
    '# 3. Run this with the play button or Ctrl-Enter.',
    '',
    'query FirstQuery {',
    '  viewer {',
    '    name',
    '  }',
    '  contacts(first: 5) {',
    '    totalCount',
    '    edges {',
    '      node {',
    '        displayName',
    '        emails {',
    '          email',
    '        }',
    '      }',
    '    }',
    '  }',
    '}',
    ''
  ].join('\n');

  // Drops an Authorization header that still holds the placeholder, so the server answers
  // "authentication required" instead of "invalid credentials".
  function withoutPlaceholder(headers) {
    var clean = {};
    Object.keys(headers || {}).forEach(function (name) {
      var value = headers[name];
      if (name.toLowerCase() === 'authorization' && typeof value === 'string' && value.indexOf('<') !== -1) {
        return;
      }
      clean[name] = value;
    });
    return clean;
  }

  function playgroundFetch(url, options) {
    // `omit`: the server's 401 carries `WWW-Authenticate: Basic`, and a request with
    // credentials would make the browser pop up its own login dialog (and wait for it).
    var init = Object.assign({}, options, { credentials: 'omit' });
    init.headers = withoutPlaceholder(options && options.headers);
    return window.fetch(url, init);
  }

  // A new fetcher function makes GraphiQL fetch the schema again (with the current headers).
  function makeFetcher() {
    var inner = GraphiQL.createFetcher({
      url: endpoint.toString(),
      subscriptionUrl: subscriptionUrl.toString(),
      fetch: playgroundFetch,
      enableIncrementalDelivery: false
    });
    return function (params, options) {
      return inner(params, options);
    };
  }

  function isJsonObject(text) {
    try {
      var value = JSON.parse(text || '{}');
      return value !== null && typeof value === 'object' && !Array.isArray(value);
    } catch (e) {
      return false;
    }
  }

  function Playground() {
    var state = React.useState(function () {
      return makeFetcher();
    });
    var fetcher = state[0];
    var setFetcher = state[1];
    var timer = React.useRef(null);
    var lastHeaders = React.useRef(DEFAULT_HEADERS);

    // Re-introspect shortly after the headers stop changing (e.g. a token was pasted).
    var onEditHeaders = React.useCallback(function (text) {
      window.clearTimeout(timer.current);
      timer.current = window.setTimeout(function () {
        if (text === lastHeaders.current || !isJsonObject(text)) {
          return;
        }
        lastHeaders.current = text;
        setFetcher(function () {
          return makeFetcher();
        });
      }, 700);
    }, []);

    // Open the docs explorer once. (GraphiQL 4.1's `visiblePlugin` prop marks the plugin as
    // visible but leaves its pane collapsed, so press the sidebar button as a person would.)
    React.useEffect(function () {
      var tries = 0;
      var poll = window.setInterval(function () {
        var button = document.querySelector('button[aria-label="Show Documentation Explorer"]');
        if (button) {
          button.click();
        }
        if (button || ++tries >= 50) {
          window.clearInterval(poll);
        }
      }, 100);
      return function () {
        window.clearInterval(poll);
      };
    }, []);

    return React.createElement(GraphiQL, {
      fetcher: fetcher,
      defaultQuery: DEFAULT_QUERY,
      defaultHeaders: DEFAULT_HEADERS,
      isHeadersEditorEnabled: true,
      shouldPersistHeaders: false,
      defaultEditorToolsVisibility: 'headers',
      onEditHeaders: onEditHeaders
    });
  }

  ReactDOM.createRoot(root).render(React.createElement(Playground));
})();
