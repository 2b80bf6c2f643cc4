// Running pv in-process as a user would, for the command tests: the arguments, the folder it runs in, and what
// it printed and returned; and a fresh results store for each run that should not share one.
using Pv.Cli;

namespace Pv.Cli.Tests;

internal static class Cli
{
    /// <summary>pv <paramref name="args"/> run in <paramref name="currentDirectory"/>: exit code, standard output, standard error.</summary>
    public static (int Exit, string Out, string Err) Run(string currentDirectory, params string[] args)
    {
        var output = new StringWriter();
        var error = new StringWriter();
        int exit = PvApp.Run(args, output, error, currentDirectory);
        return (exit, output.ToString(), error.ToString());
    }

    /// <summary>A results store path of its own, in the temporary folder.</summary>
    public static string Db() => Path.Combine(Path.GetTempPath(), "pv-tests", Guid.NewGuid().ToString("N") + ".db");
}
