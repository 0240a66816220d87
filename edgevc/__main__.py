from edgevc.cli import main

main()
