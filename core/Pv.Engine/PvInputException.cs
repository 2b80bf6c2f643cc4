// The errors that mean "the user's input is at fault", never Pv or a plugin: a scenario, plugins.json, a
// counterexample, a command-line option, or an operation of the machine program the simulated kernel refuses as
// written. Each is raised where the input is known to be the cause, with where (file:line:column, a JSON path, the
// option), and `pv` maps these and nothing else to exit 2: an exception of any other type is a bug in Pv or in a
// plugin, whatever its .NET type.
using Pv.Engine.Programs;

namespace Pv.Engine;

/// <summary>Bad input: every problem found, each with where it is.</summary>
public class PvInputException : Exception
{
    private readonly IReadOnlyList<string> _problems;

    /// <summary>Bad input with <paramref name="problems"/>, each located (file:line:column, JSON path, or the option named).</summary>
    public PvInputException(IReadOnlyList<string> problems, Exception? inner = null)
        : base(string.Join(Environment.NewLine, problems), inner) => _problems = problems;

    /// <summary>Bad input with one <paramref name="problem"/>, located.</summary>
    public PvInputException(string problem, Exception? inner = null) : this([problem], inner) { }

    /// <summary>Every problem, in the order found, each a line of its own.</summary>
    public virtual IReadOnlyList<string> Problems => _problems;
}

/// <summary>
/// An operation of the machine program cannot run as written (an mmap over an existing VMA, <c>irq-on</c> with IRQs on,
/// smp_call_function with IRQs off, memory exhausted by the program's own sizes): the program is at fault, not the
/// engine. Thrown where the engine sees it; <see cref="Machine.Run"/> and the loader add the operation's line and the thread.
/// </summary>
/// <param name="message">What cannot be done, in kernel terms.</param>
public sealed class ProgramException(string message) : PvInputException(message)
{
    /// <summary>Where the operation (or the setup declaration) was written, when known.</summary>
    public SourceSpan? At { get; private set; }

    /// <summary>The thread that ran it, or null at setup.</summary>
    public string? Agent { get; private set; }

    /// <summary>Records where the failing operation was written and who ran it, unless already known.</summary>
    internal ProgramException Locate(SourceSpan? at, string? agent)
    {
        At ??= at;
        Agent ??= agent;
        return this;
    }

    /// <inheritdoc/>
    public override IReadOnlyList<string> Problems =>
        [$"{(At is { } at ? $"{at}: " : "")}{(Agent is { } agent ? $"{agent}: " : "")}an operation of the scenario cannot run: {Message}"];
}
