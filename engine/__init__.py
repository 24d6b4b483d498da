"""The engine: a Django app that stores process definitions and runs them."""
