"""`make bench`: what a Lambda user pays for, measured on loopback stand-ins. See docs/performance.md."""
