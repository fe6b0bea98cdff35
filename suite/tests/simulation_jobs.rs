//! What-if jobs, through the gateway, on both backends: a job priced a page
//! at a time (each run going on from where the last stopped) answers what
//! the inline call answers; a key replays its job; a running job is
//! cancelled, a finished one is not; jobs are listed newest first, and one
//! that ended is forgotten seven days later.
mod support;

use std::time::Duration;

use boomerang_common::{
    backend_tests,
    testing::{channel, eventually},
    time::{Clock, now_micros},
};
use boomerang_proto::{
    accrual::v1::{
        self as apb, SimulationState, accrual_service_client::AccrualServiceClient,
        simulation_service_client::SimulationServiceClient, start_simulation_request::What,
    },
    common::v1::{Channel as Ch, PageRequest},
};
use support::{
    configs, enrol_and_record, shop::eur, simulation_done, start_configured, start_with_clock,
    with_key,
};
use tonic::Code;

/// Three pages of 500.
const ORDERS: i64 = 1_200;

fn purchase(i: i64) -> apb::Purchase {
    let cents = 1_000 + (i * 7_919) % 20_000;
    apb::Purchase {
        program_id: "demo".into(),
        order_id: format!("o-{i}"),
        customer_id: format!("c{:02}", i % 10),
        currency: "EUR".into(),
        lines: vec![apb::PurchaseLine {
            line_id: "1".into(),
            sku: "s".into(),
            category: "shoes".into(),
            unit_price: eur(&format!("{}.{:02}", cents / 100, cents % 100)),
            quantity: 1,
            discount: None,
        }],
        channel: Ch::Store as i32,
        ..Default::default()
    }
}

backend_tests! {
    async fn a_whatif_job_goes_a_page_at_a_time_to_the_inline_answer(backend) -> anyhow::Result<()> {
        let mut c = configs();
        c.accrual.simulation_chunk_pages = 1;
        let (suite, _dbs) = start_configured(backend, c).await?;
        let key = suite.create_key("shop", &["*:write"]).await?;
        suite.demo_program("shop").await?;
        let gateway = suite.addrs().gateway;
        enrol_and_record(gateway, &key, 10, (0..ORDERS).map(purchase).collect()).await?;
        let mut accrual = AccrualServiceClient::new(channel(gateway).await?);

        let mut sims = SimulationServiceClient::new(channel(gateway).await?);
        let get = apb::GetProgramRequest { program_id: "demo".into(), version: 0 };
        let mut draft = accrual.get_program(with_key(get, &key)?).await?.into_inner().program.unwrap_or_default();
        draft.earn_rules[0].rate = "7.5".into();
        let ask = apb::SimulateProgramRequest { program: Some(draft), ..Default::default() };
        let inline = sims.simulate_program(with_key(ask.clone(), &key)?).await?.into_inner();
        assert_eq!(inline.purchases, ORDERS as u64);

        // The same window as a job, a page per run.
        let same_window = apb::SimulateProgramRequest { from: inline.from, to: inline.to, ..ask };
        let start = |key: &str| apb::StartSimulationRequest { idempotency_key: key.into(), what: Some(What::Program(same_window.clone())) };
        let started = sims.start_simulation(with_key(start("job-1"), &key)?).await?.into_inner().simulation.unwrap_or_default();
        assert_eq!((started.state(), started.purchases_total), (SimulationState::Running, ORDERS as u64));
        let done = simulation_done(&mut sims, &started.simulation_id, &key).await?;
        assert_eq!(done.state(), SimulationState::Succeeded, "{}", done.error);
        assert_eq!(done.purchases_read, ORDERS as u64);
        match done.answer {
            Some(apb::simulation::Answer::Program(answer)) => assert_eq!(answer, inline, "the job answers what the call answers"),
            other => anyhow::bail!("no program answer: {other:?}"),
        }
        let again = sims.start_simulation(with_key(start("job-1"), &key)?).await?.into_inner().simulation.unwrap_or_default();
        assert_eq!(again.simulation_id, started.simulation_id, "a key replays its job");

        let cancel = |id: &str, key: &str| apb::CancelSimulationRequest { idempotency_key: key.into(), simulation_id: id.into() };
        let refused = sims.cancel_simulation(with_key(cancel(&done.simulation_id, "c-1"), &key)?).await.err().map(|s| s.code());
        assert_eq!(refused, Some(Code::FailedPrecondition), "a finished job is not cancelled");

        let running = sims.start_simulation(with_key(start("job-2"), &key)?).await?.into_inner().simulation.unwrap_or_default();
        let cancelled = sims.cancel_simulation(with_key(cancel(&running.simulation_id, "c-2"), &key)?).await?.into_inner().simulation.unwrap_or_default();
        assert_eq!(cancelled.state(), SimulationState::Cancelled);
        tokio::time::sleep(Duration::from_millis(1_500)).await;
        let later = sims.get_simulation(with_key(apb::GetSimulationRequest { simulation_id: running.simulation_id.clone() }, &key)?).await?.into_inner().simulation.unwrap_or_default();
        assert_eq!((later.state(), later.answer.is_none()), (SimulationState::Cancelled, true), "it stays cancelled");
        let missing = sims.get_simulation(with_key(apb::GetSimulationRequest { simulation_id: "sim-none".into() }, &key)?).await.err().map(|s| s.code());
        assert_eq!(missing, Some(Code::NotFound));

        // Listed newest first, a page at a time, without their answers.
        let list = |state: SimulationState, token: &str| apb::ListSimulationsRequest { state: state as i32, page: Some(PageRequest { page_size: 1, page_token: token.into() }) };
        let first = sims.list_simulations(with_key(list(SimulationState::Unspecified, ""), &key)?).await?.into_inner();
        let newest = first.simulations.first().cloned().unwrap_or_default();
        assert_eq!((newest.simulation_id.as_str(), newest.program_id.as_str(), first.next_page_token.is_empty()), (running.simulation_id.as_str(), "demo", false));
        let second = sims.list_simulations(with_key(list(SimulationState::Unspecified, &first.next_page_token), &key)?).await?.into_inner();
        let older = second.simulations.first().cloned().unwrap_or_default();
        assert_eq!((older.simulation_id.as_str(), older.state(), older.answer.is_none(), second.next_page_token.as_str()), (started.simulation_id.as_str(), SimulationState::Succeeded, true, ""));
        let done = sims.list_simulations(with_key(list(SimulationState::Succeeded, ""), &key)?).await?.into_inner();
        assert_eq!(done.simulations.iter().map(|s| s.simulation_id.as_str()).collect::<Vec<_>>(), [started.simulation_id.as_str()]);
        suite.stop().await
    }

    async fn a_job_that_ended_is_forgotten_seven_days_later(backend) -> anyhow::Result<()> {
        let clock = Clock::manual(now_micros());
        let (suite, _dbs) = start_with_clock(backend, Default::default(), clock.clone()).await?;
        let key = suite.create_key("shop", &["*:write"]).await?;
        suite.demo_program("shop").await?;
        let gateway = suite.addrs().gateway;
        let mut accrual = AccrualServiceClient::new(channel(gateway).await?);
        let mut sims = SimulationServiceClient::new(channel(gateway).await?);
        let get = apb::GetProgramRequest { program_id: "demo".into(), version: 0 };
        let draft = accrual.get_program(with_key(get, &key)?).await?.into_inner().program.unwrap_or_default();
        let ask = apb::SimulateProgramRequest { program: Some(draft), ..Default::default() };
        let start = apb::StartSimulationRequest { idempotency_key: "job".into(), what: Some(What::Program(ask)) };
        let id = sims.start_simulation(with_key(start, &key)?).await?.into_inner().simulation.unwrap_or_default().simulation_id;
        let done = simulation_done(&mut sims, &id, &key).await?;
        assert_eq!(done.state(), SimulationState::Succeeded, "{}", done.error);
        clock.advance(Duration::from_secs(7 * 86_400 - 60));
        tokio::time::sleep(Duration::from_millis(1_500)).await;
        let get = || apb::GetSimulationRequest { simulation_id: id.clone() };
        assert!(sims.get_simulation(with_key(get(), &key)?).await.is_ok(), "kept for seven days");
        clock.advance(Duration::from_secs(120));
        eventually("the job is forgotten", || {
            let (mut sims, req) = (sims.clone(), with_key(get(), &key));
            async move { Ok(sims.get_simulation(req?).await.err().map(|s| s.code()) == Some(Code::NotFound)) }
        })
        .await?;
        let listed = sims.list_simulations(with_key(apb::ListSimulationsRequest::default(), &key)?).await?.into_inner();
        assert!(listed.simulations.is_empty());
        suite.stop().await
    }
}
