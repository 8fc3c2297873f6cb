"""One module per screen of the guided flow, plus help, dashboard and dialogs."""
