"""Standing orders (recurring trips): the calendar, the writes and the reads.

`calendar` is plain Python (which days an order runs, and why a day is skipped); `services`
holds every write (create, update, skip, pause, end, materialise); `selectors` the reads.
"""
