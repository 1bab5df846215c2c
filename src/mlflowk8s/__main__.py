from mlflowk8s.cli.app import main

main()
