using Paxos.Messages;
using Paxos.Protocol;

namespace Paxos.Simulation.Tests.Simulation;

/// <summary>
/// The simulator's durability and ordering oracles (<see cref="SafetyChecker.CheckSendDurable"/>,
/// <see cref="SafetyChecker.CheckOrderedChosen"/>), one rule per test, on a real follower of a three-replica cluster
/// whose batches are persisted into a <see cref="SimulatedStorage"/> by hand: each promise is reported when it leaves
/// before what it promises is durable, and accepted once it is.
/// </summary>
public class OracleTests
{
    private static readonly ReplicaId Leader = new(1);
    private static readonly ReplicaId Follower = new(2);
    private static readonly ViewNumber View1 = new(1);

    private SafetyChecker _checker = null!;
    private SimulatedStorage _storage = null!;
    private PaxosReplica _follower = null!;

    [SetUp]
    public void StartFollower()
    {
        _checker = new SafetyChecker(3);
        _storage = new SimulatedStorage();
        _storage.ProposalDurable = proposal => _checker.OnAcceptanceDurable(Follower, proposal);
        _follower = new PaxosReplica(new ProtocolOptions { ReplicaId = Follower.Value, ClusterSize = 3 }, new RecordingExecutor());
    }

    [Test]
    public void A_View_Change_needs_its_attempt_durable()
    {
        var batch = _follower.TakeOutput(); // Boot: leader election for view 1.
        var vote = Sent<ViewChange>(batch);

        Check(vote).Should().Throw<SimulationFailureException>().WithMessage("*durability: sent a View_Change for view 1*");
        Persist(batch);
        Check(vote).Should().NotThrow();
    }

    [Test]
    public void A_Prepare_OK_needs_the_view_installed_durably()
    {
        Persist(_follower.TakeOutput());
        _follower.Step(new Prepare(Leader, View1, SequenceNumber.None));
        var batch = _follower.TakeOutput();
        var promise = Sent<PrepareOk>(batch);

        Check(promise).Should().Throw<SimulationFailureException>().WithMessage("*durability: sent a Prepare_OK of view 1 with only view 0 durably installed*");
        Persist(batch);
        Check(promise).Should().NotThrow();
    }

    [Test]
    public void An_Accept_needs_the_accepted_Proposal_durable()
    {
        InstallView1();
        _follower.Step(new Proposal(Leader, View1, new SequenceNumber(1), [Update(1)]));
        var batch = _follower.TakeOutput();
        var accept = Sent<Accept>(batch);

        Check(accept).Should().Throw<SimulationFailureException>().WithMessage("*durability: sent an Accept for slot 1 in view 1 before its acceptance was durable*");
        Persist(batch);
        Check(accept).Should().NotThrow();
    }

    [Test]
    public void A_leaders_Proposal_that_is_its_acceptance_needs_it_durable_and_an_early_one_does_not()
    {
        var implied = new Proposal(Leader, View1, new SequenceNumber(1), [Update(1)]);
        var early = new Proposal(Leader, View1, new SequenceNumber(1), [Update(1)], impliesLeaderAcceptance: false);

        ((Action)(() => _checker.CheckSendDurable(Leader, implied, new SimulatedStorage()))).Should().Throw<SimulationFailureException>().WithMessage("*a Proposal that is its acceptance*");
        ((Action)(() => _checker.CheckSendDurable(Leader, early, new SimulatedStorage()))).Should().NotThrow();
    }

    [Test]
    public void A_forwarded_update_needs_its_pending_record_durable()
    {
        InstallView1();
        _follower.Submit(Update(1));
        var batch = _follower.TakeOutput();
        var forward = Sent<ClientUpdateForward>(batch);

        Check(forward).Should().Throw<SimulationFailureException>().WithMessage("*durability: forwarded c1#1 before its pending record was durable*");
        Persist(batch);
        Check(forward).Should().NotThrow();
    }

    [Test]
    public void A_slot_executes_only_once_a_majority_holds_it_durably_accepted()
    {
        InstallView1();
        var proposal = new Proposal(Leader, View1, new SequenceNumber(1), [Update(1)]);
        _follower.Step(proposal);
        var accepted = _follower.TakeOutput();
        Persist(accepted); // The follower's own durable acceptance plus the leader's Proposal: ordered.
        var executed = _follower.TakeOutput();
        executed.OrderedSlots.Should().ContainSingle();

        // The Proposal says the leader accepted; until its write is durable too, only one of three holds the slot.
        ((Action)(() => _checker.CheckOrderedChosen(Follower, executed))).Should().Throw<SimulationFailureException>().WithMessage("*ordering: executed c1#1 at slot 1 before a majority held it durably accepted*");
        _checker.OnAcceptanceDurable(Leader, proposal);
        ((Action)(() => _checker.CheckOrderedChosen(Follower, executed))).Should().NotThrow();
    }

    [Test]
    public void One_view_may_not_accept_two_updates_for_one_slot()
    {
        _checker.OnAcceptanceDurable(Leader, new Proposal(Leader, View1, new SequenceNumber(1), [Update(1)]));

        ((Action)(() => _checker.OnAcceptanceDurable(Follower, new Proposal(Leader, View1, new SequenceNumber(1), [Update(2)]))))
            .Should().Throw<SimulationFailureException>().WithMessage("*one view, two updates: slot 1*");
    }

    private void InstallView1()
    {
        Persist(_follower.TakeOutput());
        _follower.Step(new Prepare(Leader, View1, SequenceNumber.None));
        Persist(_follower.TakeOutput());
    }

    private void Persist(OutputBatch batch)
    {
        _storage.Persist(batch);
        _follower.AcknowledgePersisted(batch.Number);
    }

    private Action Check(PaxosMessage message) => () => _checker.CheckSendDurable(Follower, message, _storage);

    private static T Sent<T>(OutputBatch batch)
        where T : PaxosMessage =>
        batch.Messages.Concat(batch.ImmediateMessages).Select(m => m.Message).OfType<T>().First();

    private static ClientUpdate Update(long client) => new(new ClientId(client), 1, new byte[] { (byte)client });
}
