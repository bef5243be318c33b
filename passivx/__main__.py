from passivx.cli import main

main()
