// `pv conform` as a plugin author runs it: a correct backend of either MMU model passes every check (exit 0); a
// backend that frees page tables right after a flush that does not wait for IRQ-off walkers fails the GUP-fast
// litmus entries with the invariant that broke and why (exit 1); a secondary MMU or an unknown name is bad input.
using Pv.Cli;
using Pv.Engine;
using Pv.Testing;

namespace Pv.Cli.Tests;

public sealed class ConformCommandTests
{
    private static (int Exit, string Out, string Err) Run(params string[] args) => Cli.Run(Fixtures.RepoRoot, ["conform", .. args]);

    [Theory]
    [InlineData("xen-pv", 10)]
    [InlineData("x86-native", 10)]
    [InlineData("uml", 4)]
    public void A_correct_backend_passes_every_check(string backend, int checks)
    {
        var (exit, output, error) = Run("--backend", backend, "--schedules", "300");
        Assert.True(exit == PvExitCode.Ok, output + error);
        Assert.Contains($"{backend}: {checks} of {checks} checks passed", output);
        Assert.DoesNotContain("FAILED", output);
    }

    [Fact]
    public void Immediate_table_free_behind_a_broadcast_flush_fails_and_says_why()
    {
        var (exit, output, _) = Run("--backend", "arm64-native-immediate-free", "--schedules", "2000", "--json");
        Assert.Equal(PvExitCode.Violation, exit);
        using var json = System.Text.Json.JsonDocument.Parse(output);
        Assert.False(json.RootElement.GetProperty("passed").GetBoolean());
        var failed = json.RootElement.GetProperty("checks").EnumerateArray().Where(c => !c.GetProperty("passed").GetBoolean()).ToList();
        Assert.Equal(["z1-gup-fast-vs-munmap-fixed", "z11-collapse-gup-fast-sync-fixed", "z14-kvm-pv-flush-immediate-free-fixed"], failed.Select(c => c.GetProperty("name").GetString()));
        Assert.All(failed, c => Assert.Contains("O2 after", c.GetProperty("detail").GetString()));
        Assert.All(failed, c => Assert.Contains("Free page tables through RCU (tlb_remove_table)", c.GetProperty("detail").GetString()));
    }

    [Theory]
    [InlineData("arm64-smmu-v6.6", "is a secondary MMU (no pv_mmu_ops): pv conform checks CPU backends")]
    [InlineData("no-such", "--backend no-such:")]
    public void A_backend_conform_cannot_check_is_exit_2(string backend, string why)
    {
        var (exit, _, error) = Run("--backend", backend);
        Assert.Equal(PvExitCode.BadInput, exit);
        Assert.Contains(why, error);
    }
}
