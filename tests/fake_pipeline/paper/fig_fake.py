"""Fixture figure: the fake experiment's array with an interval."""
import numpy as np
import style

a = style.require("fake/arr.npy")
fig, ax = style.figure()
x = np.arange(a.size)
ax.plot(x, a, color=style.color("finetuned"), label="fake")
style.interval(ax, x, a - 0.5, a + 0.5, style.color("finetuned"))
ax.set_xlabel("index")
ax.set_ylabel("value (a.u.)")
style.save_both(fig, "fake_curve")
