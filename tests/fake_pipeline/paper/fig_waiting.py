"""Fixture figure whose experiment never ran: make_figures counts it as waiting."""
import style

style.require("never/arr.npy")
