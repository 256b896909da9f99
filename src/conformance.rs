//! `stepsim test`: runs a corpus of recorded cases and scores them.
