"""A simulated breeder population for the demo workspace.

`population` draws each breeder's profile and story from a seed; `calls`, `stripe` and
`support` turn the stories into Segment calls, Stripe events, tickets and survey
answers dated inside a time window; `feed` writes them through the same services that
the event API, the Stripe webhook and the ticket webhook use, and processes them.

Everything is drawn from `random.Random` instances seeded with the simulation seed and
the breeder's number (and the day, for daily activity), so the same seed and anchor
give the same breeders, ids and times however the time window is split. That lets a
later run extend the demo up to the present without changing what is already there.
"""
