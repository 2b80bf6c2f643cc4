// The verdict of a run, a search, an A/B seed or a soak finding, as one enum: clean, the invariant the oracle
// saw break (O1..O7, one member per InvariantId of the engine), or how a run failed to give an oracle verdict.
// Its text ("clean", "O2", "assertion", "deadlock", "step-limit", "internal-error", "invalid-scenario", "plugin-fault") is the format of the
// results store, counterexample files, JSON output and reports, written and read only here, so stores and
// files written before the enum existed still read.
using System.Text.Json;
using System.Text.Json.Serialization;
using Pv.Engine.Oracle;

namespace Pv.Scenarios.Running;

/// <summary>What a run or search found. Serialised to JSON as its text (<see cref="Verdicts.ToText"/>).</summary>
[JsonConverter(typeof(VerdictJsonConverter))]
public enum Verdict
{
    /// <summary>No invariant broke.</summary>
    Clean,
    /// <summary>O1 broke: stale translation use.</summary>
    O1,
    /// <summary>O2 broke: freed page-table walk.</summary>
    O2,
    /// <summary>O3 broke: stale after return.</summary>
    O3,
    /// <summary>O4 broke: revoked PFN access.</summary>
    O4,
    /// <summary>O5 broke: secondary MMU livelock.</summary>
    O5,
    /// <summary>O6 broke: host mapping divergence (UML).</summary>
    O6,
    /// <summary>O7 broke: notifier protocol.</summary>
    O7,
    /// <summary>An outcome the scenario asserts did not hold (an operation's <c>=&gt;</c>, a <c>forall</c> or <c>~exists</c>).</summary>
    Assertion,
    /// <summary>The run deadlocked.</summary>
    Deadlock,
    /// <summary>The run hit the machine's step limit.</summary>
    StepLimit,
    /// <summary>An exception escaped the engine on a valid scenario (a soak finding).</summary>
    InternalError,
    /// <summary>A generated scenario the parser refused (a soak finding: a generator bug).</summary>
    InvalidScenario,
    /// <summary>A plugin's code threw or hung at the contract boundary (a soak finding; not a violation, not a bug in Pv).</summary>
    PluginFault,
}

/// <summary>The verdict's text and its mapping from the oracle's invariants.</summary>
public static class Verdicts
{
    /// <summary>The verdict of invariant <paramref name="id"/> breaking.</summary>
    /// <exception cref="ArgumentOutOfRangeException">An invariant this enum does not know (the engine grew one).</exception>
    public static Verdict Of(InvariantId id) => id switch
    {
        InvariantId.O1 => Verdict.O1,
        InvariantId.O2 => Verdict.O2,
        InvariantId.O3 => Verdict.O3,
        InvariantId.O4 => Verdict.O4,
        InvariantId.O5 => Verdict.O5,
        InvariantId.O6 => Verdict.O6,
        InvariantId.O7 => Verdict.O7,
        InvariantId.Assertion => Verdict.Assertion,
        _ => throw new ArgumentOutOfRangeException(nameof(id), id, "an invariant without a verdict"),
    };

    /// <summary>The verdict of a search or replay: the invariant of <paramref name="violation"/>, or clean when there is none.</summary>
    public static Verdict Of(Violation? violation) => violation is null ? Verdict.Clean : Of(violation.Id);

    /// <summary>
    /// What was found is what was expected: the one rule of "as expected" for a run, a search, a replay and a zoo entry.
    /// A violation the scenario expects (a bug with its fix off) meets it; clean where a violation was expected does not.
    /// </summary>
    public static bool Meets(this Verdict found, Verdict expected) => found == expected;

    /// <summary>An oracle verdict: an invariant broke (not clean, not a run that failed to finish or to start).</summary>
    public static bool IsViolation(this Verdict v) => v is >= Verdict.O1 and <= Verdict.O7;

    /// <summary>The stored and printed text.</summary>
    public static string ToText(this Verdict v) => v switch
    {
        Verdict.Clean => "clean",
        Verdict.Deadlock => "deadlock",
        Verdict.StepLimit => "step-limit",
        Verdict.InternalError => "internal-error",
        Verdict.InvalidScenario => "invalid-scenario",
        Verdict.PluginFault => "plugin-fault",
        Verdict.Assertion => "assertion",
        _ when v.IsViolation() => v.ToString(),
        _ => throw new ArgumentOutOfRangeException(nameof(v), v, "not a verdict"),
    };

    /// <summary>Reads a verdict's text (exact case).</summary>
    public static bool TryParse(string text, out Verdict verdict)
    {
        foreach (var v in Enum.GetValues<Verdict>())
            if (v.ToText() == text) { verdict = v; return true; }
        verdict = default;
        return false;
    }
}

/// <summary>Writes and reads a <see cref="Verdict"/> as its text, so JSON output and files keep their format.</summary>
public sealed class VerdictJsonConverter : JsonConverter<Verdict>
{
    /// <inheritdoc/>
    public override Verdict Read(ref Utf8JsonReader reader, Type typeToConvert, JsonSerializerOptions options)
    {
        string? text = reader.TokenType == JsonTokenType.String ? reader.GetString() : null;
        return text is not null && Verdicts.TryParse(text, out var v) ? v
            : throw new JsonException($"expected a verdict (clean, O1..O7, assertion, deadlock, step-limit, internal-error, invalid-scenario, plugin-fault), found {(text is null ? reader.TokenType.ToString() : $"'{text}'")}");
    }

    /// <inheritdoc/>
    public override void Write(Utf8JsonWriter writer, Verdict value, JsonSerializerOptions options) => writer.WriteStringValue(value.ToText());
}
