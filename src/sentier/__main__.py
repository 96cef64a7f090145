"""python -m sentier"""

from sentier.cli import main

main()
