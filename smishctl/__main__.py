from smishctl.cli import main

main()
