using Paxos.Protocol;

using static Paxos.Tests.Paper.ReplicaFixture;

namespace Paxos.Tests.Paper;

/// <summary>DESIGN.md §5 / STYLE.md (TigerBeetle): invariants are checked after every entry point; a broken one, or a failing
/// executor, stops the replica for good (fail-stop) rather than let it disagree with its peers.</summary>
public class InvariantTests
{
    [Test]
    public void Log_that_orders_a_slot_twice_with_different_updates_is_refused()
    {
        // §17.1 S1 / §16.2: a log that binds one slot to two updates is a broken invariant, not input to repair.
        var corrupt = new PersistentState
        {
            LastInstalled = V(1),
            OrderedSlots = [new OrderedSlot(S(1), U(1, 1, origin: 1)), new OrderedSlot(S(1), U(2, 1, origin: 1))],
        };

        var build = () => new PaxosReplica(new ProtocolOptions { ReplicaId = 0, ClusterSize = 3 }, new TestExecutor(), corrupt);

        build.Should().Throw<PaxosInvariantException>().WithMessage("*slot 1*");
    }

    [Test]
    public void Log_that_repeats_an_ordered_slot_with_the_same_update_is_accepted()
    {
        // §5 Globally_Ordered_Update: the same binding twice is harmless (the second is a known copy).
        var log = new PersistentState
        {
            LastInstalled = V(1),
            OrderedSlots = [new OrderedSlot(S(1), U(1, 1, origin: 1)), new OrderedSlot(S(1), U(1, 1, origin: 1))],
        };

        var fixture = new ReplicaFixture(0, recovered: log);

        fixture.Status.LocalAru.Should().Be(S(1));
        fixture.Executor.History.Should().ContainSingle();
    }

    [Test]
    public void Replica_whose_executor_fails_stops_and_refuses_every_later_call()
    {
        // DESIGN.md §5: an exception out of an entry point faults the replica; every later call throws ReplicaFaultedException.
        var fixture = NonLeaderOfView1();
        fixture.AutoAcknowledge = false;
        fixture.Executor.FailWhen = u => u.ClientId == new ClientId(13);
        fixture.Deliver(Proposal(1, 1, 1, U(13, 1, origin: 1)));
        var replica = fixture.Replica;

        var failing = () => fixture.AcknowledgeAll();

        failing.Should().Throw<InvalidOperationException>().WithMessage("executor refused c13#1");
        replica.IsFaulted.Should().BeTrue();
        replica.Status.IsFaulted.Should().BeTrue();
        replica.Invoking(r => r.Tick()).Should().Throw<ReplicaFaultedException>().WithInnerException<InvalidOperationException>();
        replica.Invoking(r => r.Step(Accept(2, 1, 1))).Should().Throw<ReplicaFaultedException>();
        replica.Invoking(r => r.Submit(U(1, 1))).Should().Throw<ReplicaFaultedException>();
        replica.Invoking(r => r.TakeOutput()).Should().Throw<ReplicaFaultedException>();
        replica.Invoking(r => r.AcknowledgePersisted(0)).Should().Throw<ReplicaFaultedException>();
    }
}
