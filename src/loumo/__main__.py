from loumo.cli import main

main()
