// The mmu_gather knobs: the implications asm-generic/tlb.h states (RCU table free implies table free,
// no-range implies merged VMAs) and the arch profiles by the names plugins.json uses.
using Pv.Abstractions.Gather;

namespace Pv.Abstractions.Tests;

public sealed class MmuGatherConfigTests
{
    [Fact]
    public void Rcu_table_free_implies_table_free()
    {
        Assert.True(new MmuGatherConfig(RcuTableFree: true).EffectiveTableFree);
        Assert.True(new MmuGatherConfig(TableFree: true).EffectiveTableFree);
        Assert.False(new MmuGatherConfig().EffectiveTableFree);
    }

    [Fact]
    public void No_range_implies_merge_vmas()
    {
        Assert.True(new MmuGatherConfig(NoRange: true).EffectiveMergeVmas);
        Assert.True(new MmuGatherConfig(MergeVmas: true).EffectiveMergeVmas);
        Assert.False(new MmuGatherConfig().EffectiveMergeVmas);
    }

    [Fact]
    public void Defaults_invalidate_tables_and_nothing_else()
    {
        Assert.Equal(new MmuGatherConfig(false, false, false, false, false, false, false, TableInvalidate: true), new MmuGatherConfig());
    }

    [Theory]
    [InlineData("x86", false, true, false)]
    [InlineData("x86-paravirt", true, true, false)]
    [InlineData("x86-6.15", true, true, false)]
    [InlineData("arm64", true, false, false)]
    [InlineData("s390", true, true, true)]
    [InlineData("riscv-ipi", false, false, false)]
    [InlineData("alpha", false, true, false)]
    public void Profiles_by_name_select_the_kernel_knobs(string name, bool rcuTableFree, bool mergeVmas, bool noGather)
    {
        var config = ArchProfiles.ByName[name];
        Assert.Equal((rcuTableFree, mergeVmas, noGather), (config.RcuTableFree, config.EffectiveMergeVmas, config.NoGather));
    }

    [Fact]
    public void Profiles_by_name_are_the_named_profiles()
    {
        Assert.Same(ArchProfiles.X86, ArchProfiles.ByName["x86"]);
        Assert.Same(ArchProfiles.Arm64, ArchProfiles.ByName["arm64"]);
        Assert.Same(ArchProfiles.PowerPcHash, ArchProfiles.ByName["powerpc-hash"]);
        Assert.False(ArchProfiles.PowerPcHash.TableInvalidate);
        Assert.True(ArchProfiles.Sparc64.NoFlushCache);
        Assert.True(ArchProfiles.PowerPc.PageSize);
        Assert.All(["m68k", "nios2", "openrisc"], n => Assert.Same(ArchProfiles.NoRangeArch, ArchProfiles.ByName[n]));
        Assert.Equal(16, ArchProfiles.ByName.Count);
        Assert.False(ArchProfiles.ByName.ContainsKey("X86"));
    }
}
