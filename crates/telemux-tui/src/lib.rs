//! telemux's terminal front ends: the live dashboard (`telemux tui`) and `telemux attach`.
