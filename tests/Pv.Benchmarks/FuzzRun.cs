// The long fuzz run: `-- --fuzz [--cases N] [--minutes M] [--seed S] [--target scenario|plugins|counterexample] [--out DIR]`.
// Runs the CI fuzz tests' mutants (tests/fuzz/MutationFuzz.cs) through `pv`, case i from CsCheck seed CaseSeed(S, i),
// the targets in turn, until N cases or M minutes, and prints the figures docs/fuzzing.md asks for: inputs tried,
// the exit-code histogram per target, crashes (exit 3 or an escaped exception), hangs, unlocated errors and wall
// time. Each failing mutant, and each violation found in a mutant of an `expect clean` scenario (a possible false
// positive, to be read by a person), is written to DIR with the seed that reproduces it. Exit 1 if any case failed.
using System.Diagnostics;
using System.Text;
using CsCheck;
using Pv.Cli;
using Pv.Testing;

namespace Pv.Benchmarks;

/// <summary>The <c>--fuzz</c> mode.</summary>
public static class FuzzRun
{
    public static int Run(string[] args)
    {
        long cases = 100_000;
        double minutes = double.PositiveInfinity;
        ulong runSeed = 1;
        var targets = Enum.GetValues<FuzzTarget>();
        string outDir = Path.Combine(Fixtures.RepoRoot, "artifacts", "fuzz");
        for (int i = 0; i + 1 < args.Length; i += 2)
        {
            switch (args[i])
            {
                case "--cases": cases = long.Parse(args[i + 1]); break;
                case "--minutes": minutes = double.Parse(args[i + 1], System.Globalization.CultureInfo.InvariantCulture); break;
                case "--seed": runSeed = ulong.Parse(args[i + 1]); break;
                case "--out": outDir = Path.GetFullPath(args[i + 1]); break;
                case "--target":
                    targets = [args[i + 1] switch
                    {
                        "scenario" => FuzzTarget.Scenario, "plugins" => FuzzTarget.PluginsJson, "counterexample" => FuzzTarget.Counterexample,
                        var t => throw new ArgumentException($"unknown target '{t}': scenario, plugins or counterexample"),
                    }];
                    break;
                default: throw new ArgumentException($"unknown option '{args[i]}'");
            }
        }
        Directory.CreateDirectory(outDir);

        using var rig = new FuzzRig(Fixtures.RepoRoot);
        var gens = targets.ToDictionary(t => t, t => MutationFuzz.Mutants(t, rig.Seeds(t)));
        var histogram = targets.ToDictionary(t => t, _ => new SortedDictionary<string, long>(StringComparer.Ordinal));
        long tried = 0, crashes = 0, hangs = 0, unlocated = 0, otherFailures = 0, suspects = 0;
        var slowest = TimeSpan.Zero;
        var clock = Stopwatch.StartNew();
        for (int i = 0; i < cases && clock.Elapsed.TotalMinutes < minutes; i++)
        {
            var target = targets[i % targets.Length];
            string seed = MutationFuzz.CaseSeed(runSeed, i);
            Mutant mutant = null!;
            Outcome outcome = null!;
            gens[target].Sample(m => (mutant, outcome) = (m, rig.Run(m)), seed: seed, iter: 1, threads: 1);
            tried++;
            if (outcome.Elapsed > slowest) slowest = outcome.Elapsed;
            string code = outcome.Exit?.ToString() ?? (outcome.Problem!.Contains("hang", StringComparison.Ordinal) ? "hang" : "escaped");
            histogram[target][code] = histogram[target].GetValueOrDefault(code) + 1;

            if (outcome.Problem is { } problem)
            {
                if (outcome.Exit is null && code == "hang") hangs++;
                else if (outcome.Exit is null || outcome.Exit == PvExitCode.InternalError) crashes++;
                else if (problem.StartsWith("unlocated", StringComparison.Ordinal) || problem.Contains(": unlocated", StringComparison.Ordinal)) unlocated++;
                else otherFailures++;
                Save(outDir, "fail", i, seed, rig, mutant, problem);
                Console.WriteLine($"FAIL case {i} (seed {seed}): {problem.Split('\n')[0]}");
                if (code == "hang") break;   // the hung call keeps its thread: stop here rather than pile up more
            }
            else if (target == FuzzTarget.Scenario && outcome.Exit == PvExitCode.Violation && ExpectsClean(rig.SeedOf(mutant).Bytes))
            {
                suspects++;
                Save(outDir, "violation-in-clean", i, seed, rig, mutant, outcome.Error);
            }
            if ((i + 1) % 1000 == 0) Console.WriteLine($"  {i + 1:N0} cases, {clock.Elapsed:hh\\:mm\\:ss}");
        }

        Console.WriteLine($"fuzz run: seed {runSeed}, targets {string.Join(", ", targets)}");
        Console.WriteLine($"inputs tried: {tried:N0} in {clock.Elapsed:hh\\:mm\\:ss} ({tried / Math.Max(clock.Elapsed.TotalSeconds, 1e-9):N1}/s), slowest case {slowest.TotalSeconds:N2} s");
        foreach (var (target, codes) in histogram)
            Console.WriteLine($"  {target}: exit codes {string.Join(", ", codes.Select(kv => $"{kv.Key}: {kv.Value:N0}"))}");
        Console.WriteLine($"crashes (exit 3 or escaped exception): {crashes}");
        Console.WriteLine($"hangs (over {MutationFuzz.CaseCap.TotalSeconds:N0} s): {hangs}");
        Console.WriteLine($"unlocated errors: {unlocated}");
        Console.WriteLine($"other contract failures: {otherFailures}");
        Console.WriteLine($"violations in mutants of expect-clean scenarios (to read: false positive or a changed program?): {suspects}, in {outDir}");
        return crashes + hangs + unlocated + otherFailures == 0 ? 0 : 1;
    }

    private static bool ExpectsClean(byte[] scenario) =>
        Encoding.UTF8.GetString(scenario).Split('\n').Any(l => l.Trim() == "expect clean");

    /// <summary>Writes the mutant and what happened, named by kind and case, with the seed that regenerates it.</summary>
    private static void Save(string outDir, string kind, int i, string seed, FuzzRig rig, Mutant mutant, string what)
    {
        string stem = Path.Combine(outDir, $"{kind}-{i}");
        File.WriteAllBytes(stem + (mutant.Target == FuzzTarget.Scenario ? ".pvl" : ".json"), rig.Bytes(mutant));
        File.WriteAllText(stem + ".txt", $"case {i}, CsCheck seed {seed}\n{rig.Print(mutant)}\n\n{what}\n");
    }
}
