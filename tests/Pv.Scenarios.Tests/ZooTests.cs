// The bug zoo is these files: every scenario of scenarios/zoo is searched as `pv zoo` does and must behave as
// its `expect` line says (docs/model.md's bug zoo, fix off: the invariant; fix on: clean over the whole budget). How fast a
// counterexample comes is a figure `pv zoo` reports, not something a unit test times.
using Pv.Hosting;
using Pv.Scenarios.Litmus;
using Pv.Scenarios.Running;

namespace Pv.Scenarios.Tests;

public sealed class ZooTests
{
    internal static readonly Lazy<PluginCatalog> Catalog = new(() => PluginCatalog.Load(Path.Combine(Fixtures.RepoRoot, "plugins.json")));

    private static List<string> Names() => Zoo.Files(Path.Combine(Fixtures.RepoRoot, "scenarios", "zoo")).Select(f => Path.GetFileName(f)).ToList();

    public static TheoryData<string> Entries() => [.. Names()];

    [Fact]
    public void A_zoo_run_is_the_same_for_every_number_of_jobs()
    {
        // The Z1 entries (fix off on three backends, fix on): violations, clean searches, different backends at once.
        var files = Zoo.Files(Path.Combine(Fixtures.RepoRoot, "scenarios", "zoo")).Where(f => Path.GetFileName(f).StartsWith("z1-", StringComparison.Ordinal)).ToList();
        var runs = new[] { 1, 2, 4 }.Select(jobs => Zoo.RunAll(files, Catalog.Value, jobs: jobs).Entries
            .Select(e => (e.Entry, e.Backend, e.Expected, e.Found, e.Schedules)).ToList()).ToList();
        Assert.Equal(files.Count, runs[0].Count);
        Assert.Equal(runs[0], runs[1]);
        Assert.Equal(runs[0], runs[2]);
    }

    [Theory]
    [MemberData(nameof(Entries))]
    public void Zoo_entry_behaves_as_its_file_expects(string file)
    {
        var e = Zoo.Run(Path.Combine(Fixtures.RepoRoot, "scenarios", "zoo", file), Catalog.Value);
        Assert.True(e.AsExpected, $"{file}: expected {e.ExpectedText}, found {e.FoundText} after {e.Schedules} schedules {e.Error}");
    }

    [Fact]
    public void The_zoo_holds_Z1_to_Z14_with_the_fix_off_and_on()
    {
        // Each bug has an entry that must find its invariant (fix off) and one that must stay clean (fix on); more
        // entries show the same bug on other backends and eras.
        var dir = Path.Combine(Fixtures.RepoRoot, "scenarios", "zoo");
        var expectations = Names().Select(n => (Name: n, Expect: ScenarioParser.ParseFile(Path.Combine(dir, n)).Expect.Verdict)).ToList();
        for (int z = 1; z <= 14; z++)
        {
            var entries = expectations.Where(e => e.Name.StartsWith($"z{z}-", StringComparison.Ordinal)).ToList();
            Assert.Contains(entries, e => e.Expect == Verdict.Clean);
            Assert.Contains(entries, e => e.Expect.IsViolation());
        }
    }

    [Fact]
    public void A_zoo_run_for_one_backend_searches_only_its_entries_and_keeps_unreadable_ones()
    {
        // A folder of two real entries on different backends and one file that names no known backend.
        string folder = Path.GetDirectoryName(Fixtures.WriteFile("z0-broken.pvl", "backend no-such\nmm a\n  vma 0x1000 4K rw\nthread t cpu 0 mm a\n  read 0x1000\n"))!;
        foreach (var name in new[] { "z1-gup-fast-vs-munmap.pvl", "z3-pfnmap-unmap-mapping-range-fixed.pvl" })
            File.Copy(Path.Combine(Fixtures.RepoRoot, "scenarios", "zoo", name), Path.Combine(folder, name));

        var run = Zoo.RunAll(folder, Catalog.Value, "xen-pv-2012");

        Assert.Equal(["z0-broken", "z1-gup-fast-vs-munmap"], run.Entries.Select(e => e.Entry));
        var broken = run.Entries[0];
        Assert.Equal(("?", "?", "error", false), (broken.Backend, broken.ExpectedText, broken.FoundText, broken.AsExpected));
        Assert.Contains("unknown backend 'no-such'", broken.Error);
        var z1 = run.Entries[1];
        Assert.Equal((Verdict.O2, Verdict.O2, true), (z1.Expected, z1.Found, z1.AsExpected));
        Assert.True(run.AnyError);
        Assert.False(run.AllAsExpected);
        Assert.Equal(1, run.AsExpected);
    }

    [Fact]
    public void The_default_zoo_is_next_to_plugins_json() =>
        Assert.Equal(Path.Combine(Fixtures.RepoRoot, "scenarios", "zoo"), Zoo.DefaultFolder(Catalog.Value));
}
