"""One module per tab: a pure handler (testable without a browser) and a ``build`` that wires it."""
