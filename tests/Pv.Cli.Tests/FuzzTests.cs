// Property-based fuzzing of the three input readers through `pv` itself (tests/fuzz/MutationFuzz.cs): mutants of
// the shipped scenarios, plugins.json and a counterexample `pv explore` writes must each end in an allowed exit
// code (never 3), within the case cap, and any bad input must be reported with where it is. The cases are fixed
// (case i is CsCheck seed CaseSeed(RunSeed, i)), so CI runs the same mutants every time; a failing case is then
// shrunk by CsCheck from its seed and the smallest failing mutant is printed with the seed that reproduces it.
// The longer run is `dotnet run -c Release --project tests/Pv.Benchmarks -- --fuzz` (docs/fuzzing.md).
using CsCheck;

namespace Pv.Cli.Tests;

/// <summary>The rig, set up once for the fuzz tests (it runs pv explore to get a counterexample).</summary>
public sealed class FuzzRigFixture : IDisposable
{
    internal FuzzRig Rig { get; } = new(Fixtures.RepoRoot);

    public void Dispose() => Rig.Dispose();
}

public sealed class FuzzTests(FuzzRigFixture fixture) : IClassFixture<FuzzRigFixture>
{
    /// <summary>The CI run's seed: changing it changes every case.</summary>
    private const ulong RunSeed = 13;

    private void Fuzz(FuzzTarget target, int cases)
    {
        var rig = fixture.Rig;
        var mutants = MutationFuzz.Mutants(target, rig.Seeds(target));
        void Check(Mutant m)
        {
            if (rig.Run(m).Problem is { } problem) throw new InvalidOperationException(problem);
        }
        for (int i = 0; i < cases; i++)
        {
            string seed = MutationFuzz.CaseSeed(RunSeed, i);
            try
            {
                mutants.Sample(Check, seed: seed, iter: 1, threads: 1, print: rig.Print);
            }
            catch (CsCheckException)
            {
                // Shrink: CsCheck tries mutants smaller than this one (larger ones are skipped unrun) and reports the smallest that fails.
                mutants.Sample(Check, seed: seed, iter: 100_000, threads: 1, print: rig.Print);
                throw;
            }
        }
    }

    [Fact]
    public void Mutated_scenarios_run_or_are_refused_with_a_location() => Fuzz(FuzzTarget.Scenario, 60);

    [Fact]
    public void Mutated_plugins_json_is_listed_or_refused_with_a_json_path() => Fuzz(FuzzTarget.PluginsJson, 25);

    [Fact]
    public void Mutated_counterexamples_replay_or_are_refused_with_a_location() => Fuzz(FuzzTarget.Counterexample, 40);
}

/// <summary>What the fuzzer found, each pinned as a plain regression test through the CLI.</summary>
public sealed class FuzzFindingTests(FuzzRigFixture fixture) : IClassFixture<FuzzRigFixture>
{
    private static readonly string Shipped = File.ReadAllText(Path.Combine(Fixtures.RepoRoot, "plugins.json"));

    private static (int Exit, string Out, string Err) Pv(params string[] args)
    {
        var (output, error) = (new StringWriter(), new StringWriter());
        int exit = PvApp.Run(args, output, error, Path.GetTempPath());
        return (exit, output.ToString(), error.ToString());
    }

    [Theory]
    // A NUL in a plugin path was an ArgumentException from Path.GetFullPath (exit 3).
    [InlineData("\"path\": \"artifacts/plugins/Pv.Plugins.Smmu/Pv.Plugins.Smmu.dll\"", "\"path\": \"artifacts/a\\u0000b.dll\"", ":5:15: $.plugins[0].path: a plugin path cannot contain a NUL character")]
    // An unpaired surrogate escape was an InvalidOperationException from the JSON reader, and pv plugins was unguarded (exit 1).
    [InlineData("\"name\": \"smmu\"", "\"name\": \"sm\\ud800\"", ":4:15: $: not valid JSON: a string cannot be decoded")]
    // A bad literal was reported with the rest of the file quoted after it, over a hundred lines.
    [InlineData("\"btm\": false", "\"btm\": tlb", ":32:17: $: not valid JSON: 'tlb' is an invalid JSON literal. Expected the literal 'true'.")]
    public void Plugins_json_that_once_crashed_or_spilled_is_one_located_line_each(string from, string to, string expected)
    {
        string config = Fixtures.WriteFile("plugins.json", Shipped.Replace(from, to));
        var (exit, output, _) = Pv("plugins", "--config", config);
        Assert.Equal(PvExitCode.BadInput, exit);
        Assert.Contains($"  {config}{expected}", output);
        Assert.DoesNotContain("\n    }", output[output.IndexOf("problem(s):", StringComparison.Ordinal)..]);
    }

    [Fact]
    public void Invalid_utf8_in_plugins_json_is_a_located_error()
    {
        byte[] bytes = System.Text.Encoding.UTF8.GetBytes(Shipped.Replace("Pv.Plugins.Smmu.dll", "Pv.Plugins.Sm#u.dll"));
        bytes[Array.IndexOf(bytes, (byte)'#')] = 0xFF;
        string config = Fixtures.WriteFile("plugins.json", "");
        File.WriteAllBytes(config, bytes);
        var (exit, output, _) = Pv("plugins", "--config", config);
        Assert.Equal(PvExitCode.BadInput, exit);
        Assert.Contains($"{config}:5:15: $: not valid JSON: a string cannot be decoded", output);
    }

    [Fact]
    public void A_schedule_edited_to_an_entity_that_cannot_run_is_located_at_its_entry()
    {
        // It was bad input already, but named neither the file nor the entry.
        string cx = fixture.Rig.Counterexample;
        string edited = Fixtures.WriteFile("edited.cx.json", File.ReadAllText(cx).Replace("\"schedule\": [\n    0,", "\"schedule\": [\n    4097,"));
        var (exit, _, error) = Pv("replay", edited, "--config", Path.Combine(Fixtures.RepoRoot, "plugins.json"));
        Assert.Equal(PvExitCode.BadInput, exit);
        Assert.StartsWith($"pv: {edited}: $.schedule[0]: replay diverged at step 0: entity 4097 is not runnable", error);
    }
}
