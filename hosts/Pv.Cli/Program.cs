// Entry point of `pv`: everything lives in PvApp so tests run the same code with their own writers.
return Pv.Cli.PvApp.Run(args, Console.Out, Console.Error, Environment.CurrentDirectory);
