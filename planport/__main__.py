from planport.cli import main

main()
