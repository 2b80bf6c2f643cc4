// `pv` running itself as a child process, for --isolate: a fault no .NET process survives (a stack overflow in
// plugin code) then kills only the child, and the parent reports it by name and goes on. The child is this same
// pv.dll under the same dotnet host, so it loads the same plugins.json and plugins.
using System.Diagnostics;

namespace Pv.Cli;

/// <summary>Runs <c>pv</c> as a child process.</summary>
internal static class ChildProcess
{
    /// <summary>The exit codes a <c>pv</c> that ended by itself can give (anything else: the process died).</summary>
    public static readonly int[] PvCodes = [PvExitCode.Ok, PvExitCode.Violation, PvExitCode.BadInput, PvExitCode.InternalError, PvExitCode.PluginFault, PvExitCode.Interrupted];

    /// <summary>Runs <c>pv <paramref name="args"/></c> in <paramref name="workingDirectory"/> and waits for it.</summary>
    public static (int Exit, string Output, string Error) Run(IEnumerable<string> args, string workingDirectory)
    {
        // Under `dotnet test` or `dotnet pv.dll` the host is dotnet; its path is what the SDK exports, else the running one.
        string host = Environment.GetEnvironmentVariable("DOTNET_HOST_PATH")
            ?? (Path.GetFileNameWithoutExtension(Environment.ProcessPath) == "dotnet" ? Environment.ProcessPath! : "dotnet");
        var start = new ProcessStartInfo(host)
        {
            WorkingDirectory = workingDirectory,
            RedirectStandardOutput = true,
            RedirectStandardError = true,
        };
        start.ArgumentList.Add(typeof(ChildProcess).Assembly.Location);
        foreach (var a in args) start.ArgumentList.Add(a);
        using var process = Process.Start(start) ?? throw new InvalidOperationException($"cannot start {host}");
        var error = process.StandardError.ReadToEndAsync();
        string output = process.StandardOutput.ReadToEnd();
        process.WaitForExit();
        return (process.ExitCode, output, error.Result);
    }
}
