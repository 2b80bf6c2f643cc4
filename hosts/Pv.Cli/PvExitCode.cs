// The exit codes of `pv`, the same for every command, so scripts can tell a found bug from a typo.
namespace Pv.Cli;

/// <summary>Exit codes of the <c>pv</c> command.</summary>
public static class PvExitCode
{
    /// <summary>Success: the command did what was asked and found nothing wrong.</summary>
    public const int Ok = 0;

    /// <summary>A run found an invariant violation (the oracle reported a bug).</summary>
    public const int Violation = 1;

    /// <summary>Bad input or usage: an unknown option, a missing file, any diagnostic in plugins.json.</summary>
    public const int BadInput = 2;

    /// <summary>An internal error: an invariant of Pv itself failed (a bug in Pv, reported with what replays it).</summary>
    public const int InternalError = 3;
}
