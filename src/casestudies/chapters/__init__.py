"""One module per chapter for the code that turns its trained models into the numbers its hypotheses test.

A chapter's notebook keeps what defines its idea (the reward, the data mix, the arms); the runner and the
measurement live here, beside their tests, so that what the verdict reads is tested like the rest of the package.
"""
