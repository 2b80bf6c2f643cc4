// The bug zoo is these files: every scenario of scenarios/zoo is searched as `pv zoo` does and must behave as
// its `expect` line says (docs/model.md's bug zoo, fix off: the invariant; fix on: clean over the whole budget). How fast a
// counterexample comes is a figure `pv zoo` reports, not something a unit test times.
using Pv.Hosting;
using Pv.Scenarios.Running;

namespace Pv.Scenarios.Tests;

public sealed class ZooTests
{
    internal static readonly Lazy<PluginCatalog> Catalog = new(() => PluginCatalog.Load(Path.Combine(Fixtures.RepoRoot, "plugins.json")));

    private static List<string> Names() => Zoo.Files(Path.Combine(Fixtures.RepoRoot, "scenarios", "zoo")).Select(f => Path.GetFileName(f)).ToList();

    public static TheoryData<string> Entries() => [.. Names()];

    [Theory]
    [MemberData(nameof(Entries))]
    public void Zoo_entry_behaves_as_its_file_expects(string file)
    {
        var e = Zoo.Run(Path.Combine(Fixtures.RepoRoot, "scenarios", "zoo", file), Catalog.Value);
        Assert.True(e.AsExpected, $"{file}: expected {e.Expected}, found {e.Found} after {e.Schedules} schedules {e.Error}");
    }

    [Fact]
    public void The_zoo_holds_Z1_to_Z11_with_the_fix_off_and_on()
    {
        // Each bug has an entry that must find its invariant (fix off) and one that must stay clean (fix on); more
        // entries show the same bug on other backends and eras.
        var dir = Path.Combine(Fixtures.RepoRoot, "scenarios", "zoo");
        var expectations = Names().Select(n => (Name: n, Expect: File.ReadLines(Path.Combine(dir, n)).First(l => l.StartsWith("expect ", StringComparison.Ordinal))[7..].Trim())).ToList();
        for (int z = 1; z <= 11; z++)
        {
            var entries = expectations.Where(e => e.Name.StartsWith($"z{z}-", StringComparison.Ordinal)).ToList();
            Assert.Contains(entries, e => e.Expect == "clean");
            Assert.Contains(entries, e => e.Expect != "clean");
        }
    }
}
