"""A simulated breeder population for the demo workspace.

- `population` draws each breeder's profile and story (with tickets and survey
  answers) from a seed.
- `calls` and `stripe` turn the stories into Segment calls and Stripe events dated
  inside a time window.
- `feed` writes all of it through the same services that the event API, the Stripe
  webhook and the ticket webhook use, and processes it.

Everything is drawn from `random.Random` instances seeded with the simulation seed and
the breeder's number (and the day, for daily activity), so the same seed and anchor
give the same breeders, ids and times however the time window is split. That lets a
later run extend the demo up to the present without changing what is already there.
"""
