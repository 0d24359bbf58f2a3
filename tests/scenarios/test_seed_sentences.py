"""Every sentence of both seed plans is in the software, quoted exactly by what carries it out.

The seeds (docs/seeds/, copies of the two plans drportal was written from) are split into sentences. Each one is
either a sentence the plan asks someone to do or count on (PLAN: a disaster, a mitigation or a response), listed
with the places allowed to quote it and why, or context (CONTEXT: overview, impact, inventory), listed with why it
needs no step. The tests fail when the seed has a sentence neither list holds, when a PLAN sentence is quoted by
nothing, when a step quotes it whose kind cannot carry it out (a notice quoting "we recover the code from our
local backups"), and when anything quotes words the seeds do not say.

Places: a scenario of scenarios/library/ (its steps by kind, its trigger, its objectives), the mitigations
register (scenarios/mitigations.yaml: a standing measure someone keeps and checks) and the backup policies of
inventories/*.yaml (their description quotes the sentence: the backups app watches them).
"""

from __future__ import annotations

import re
from functools import cache
from pathlib import Path

import pytest
import yaml
from django.conf import settings

from scenarios import loader

BASE = Path(settings.BASE_DIR)
SEEDS = {"jivosoft": BASE / "docs/seeds/jivosoft-dr-plan.txt",
         "cybernance": BASE / "docs/seeds/cybernance-backup-policy.txt"}

REGISTER, POLICY = "register", "policy"
TRIGGER, OBJECTIVES = "trigger", "objectives"
MANUAL, DECISION, WAIT, APPROVAL, AUTOMATED, NOTIFY = "manual", "decision", "wait", "approval", "automated", "notify"
PEOPLE = {MANUAL, DECISION, APPROVAL}

POWER, DESTROYED = "jivosoft-office-power-internet", "jivosoft-office-destroyed"
CRASH, DALLAS = "jivosoft-server-crash", "jivosoft-datacenter-offline"
# The way home after Disaster 4 (re-protect, fail back, retire): the plan's own words for the steps it shares.
HOME = "jivosoft-return-home"
RDS, DB_LOST, APP, ALL_DC = ("cybernance-rds-primary-failure", "cybernance-database-total-loss",
                             "cybernance-app-server-lost", "cybernance-all-datacenters-lost")
REDIS_ONE, REDIS_BOTH = "cybernance-redis-failover", "cybernance-redis-total-loss"
GITHUB, TERMINATION = "cybernance-github-lost", "cybernance-customer-termination"
CYB_HOME = "cybernance-return-home"  # the way back after every datacenter was lost
BOTH_OFFICES = {POWER, DESTROYED}


def only(*scenarios: str, kinds: set[str]) -> dict[str, set[str]]:
    return {s: set(kinds) for s in scenarios}


# sentence -> where it may be quoted ({scenario id, REGISTER or POLICY: kinds}). Jivosoft's own spelling
# "Jivasoft" is read as "Jivosoft" (the seed uses both for the one company).
PLAN: dict[str, dict[str, set[str]]] = {
    # --- Jivosoft, Disaster 1: loss of power or Internet at the offices ---
    # The event: what an incident of this class is.
    "It is possible that Jivosoft could lose electrical power or Internet connectivity at its offices.":
        only(POWER, kinds={TRIGGER}),
    # Standing facts about hosting: the register keeps them (a provider promise someone re-checks).
    "Jivosoft's SaaS services are hosted in a secure data center in Dallas, Texas with extensive power and network "
    "redundancy.": {REGISTER: {REGISTER}},
    "Rackspace maintains Internet connectivity through multiple Tier 1 connections to multiple carriers.":
        {REGISTER: {REGISTER}},
    # The office scenarios' objective: the SaaS keeps running, no customer data at stake.
    "A power loss or loss of Internet connectivity at the Jivosoft offices in San Antonio would be extremely unlikely "
    "to affect the availability of its SaaS services to its customers.": only(POWER, kinds={OBJECTIVES}),
    # Mitigations both office disasters count on: register entries; the phone system run from laptops is also
    # something people do once they have moved, hence a manual step in both office scenarios.
    "Jivosoft's VOIP telephone service will forward calls to cell phones of key personnel in the event that the "
    "office phones are not available.": {REGISTER: {REGISTER}},
    "Jivosoft's VOIP telephone service can be accessed via the Internet or a smartphone app.":
        {REGISTER: {REGISTER}, **only(*BOTH_OFFICES, kinds={MANUAL})},
    "Employees can use Internet-connected laptops and cell phones to operate all of the essential features of the "
    "company phone system.": {REGISTER: {REGISTER}, **only(*BOTH_OFFICES, kinds={MANUAL})},
    "Jivosoft's key employees have laptop computers and Internet at home and could work from home if necessary.":
        {REGISTER: {REGISTER}},
    "Jivosoft maintains memberships for its key employees in a co-working space in downtown San Antonio (Geekdom) "
    "where employees could work in the event that the company offices and their homes do not have power or "
    "Internet.": {REGISTER: {REGISTER}},
    # Public Wi-Fi: a standing fallback (register), and in a brief outage critical functions move to it (manual).
    "Public Wi-Fi is available in many places, such as coffee shops, restaurants and public buildings.":
        {REGISTER: {REGISTER}},
    "In the event of a brief loss of power and/or Internet, critical functions could be performed over public "
    "Wi-Fi.": only(POWER, kinds={MANUAL}),
    # The response: people assess, decide, wait, forward calls, redeploy, travel.
    "If Jivosoft loses power or Internet, the top-ranking person on site at the time will immediately attempt to "
    "determine the expected duration of the outage.": only(POWER, kinds={MANUAL}),
    "This person will also determine if the outage creates a health or safety risk for personnel.":
        only(POWER, kinds={MANUAL}),
    "If the outage is expected to last for less than an hour, and there is no risk to the health or safety of "
    "employees, then employees will simply wait for the incident to end.": only(POWER, kinds={DECISION, WAIT}),
    "Incoming phone calls will come to the cell phone of the person in charge.": only(POWER, kinds={MANUAL}),
    "Employees will use their personal cell phones, as necessary, to communicate with customers and to access their "
    "company email.": only(POWER, kinds={NOTIFY}),
    "If the outage is expected to last for more than an hour or, if there is risk to the health or safety of the "
    "employees, then employees will be given the option of going home and working from home or going to Geekdom "
    "and working from there.": only(POWER, kinds={MANUAL, DECISION}),
    "Employees will be required to verify that they are redeploying to a location that has power and Internet.":
        only(POWER, kinds={MANUAL, NOTIFY}),
    "In the case of a widespread outage that is expected to last multiple days, it may be necessary for Jivosoft "
    "to organize a team of critical employees to travel to a remote location that has power and Internet.":
        only(POWER, kinds={MANUAL}),
    "The method of travel would be determined based on the scope and nature of the disaster.":
        only(POWER, kinds={MANUAL}),
    "For example, employees could be asked to drive to Houston, Dallas or some other location that is not "
    "affected by the disaster and to work from a hotel room until the outage is resolved.":
        only(POWER, kinds={MANUAL}),

    # --- Jivosoft, Disaster 2: offices destroyed or inaccessible ---
    "It is possible that Jivosoft's offices could be destroyed or rendered inaccessible for an extended period of "
    "time.": only(DESTROYED, kinds={TRIGGER}),
    "The destruction or unavailability of Jivosoft's Offices in San Antonio would have no direct impact on the "
    "availability of Jivosoft's SaaS services to its customers.": only(DESTROYED, kinds={OBJECTIVES}),
    "Jivosoft maintains memberships for its key employees in a co-working space in downtown San Antonio (Geekdom) "
    "where employees could work in the event that the company offices and their homes are destroyed.":
        {REGISTER: {REGISTER}},
    "Jivosoft maintains a casualty insurance policy that is adequate to provide the financial resources to "
    "reconstitute the office in a new or temporary location.": {REGISTER: {REGISTER}},
    # The credit line is kept (register) and spending on it is a manager's approval.
    "Jivosoft maintains a corporate credit line that would enable it to immediately purchase critical furnishings "
    "and equipment to reconstitute a new or temporary location.":
        {REGISTER: {REGISTER}, **only(DESTROYED, kinds={APPROVAL})},
    # Payments: a standing channel (register), and a manager makes sure it keeps flowing (manual).
    "Jivosoft receives payments from its customers at a P.O. Box at a local post office and through electronic "
    "funds transfers to its bank accounts.": {REGISTER: {REGISTER}, **only(DESTROYED, kinds={MANUAL})},
    "Destruction of Jivosoft's offices would not disrupt Jivosoft's cash flow or financial viability.":
        {REGISTER: {REGISTER}, **only(DESTROYED, kinds={MANUAL})},
    # Source code: kept off-site (register); someone confirms it is reachable (manual).
    "Jivosoft maintains an offsite repository of all of its software source code that is accessible through the "
    "Internet.": {REGISTER: {REGISTER}, **only(DESTROYED, kinds={MANUAL})},
    "In the event that Jivosoft's offices are destroyed or inaccessible, Jivosoft would not lose its most vital "
    "asset, i.e., its source code.": {REGISTER: {REGISTER}, **only(DESTROYED, kinds={MANUAL})},
    # Records: kept off-site (register), restored by a person (the records are documents, not a database).
    "Jivosoft maintains offsite backup of its corporate and financial records, which are maintained in electronic "
    "format.": {REGISTER: {REGISTER}, **only(DESTROYED, kinds={MANUAL})},
    "Therefore, the destruction of Jivosoft's offices would not result in a loss of critical business and "
    "financial data.": {REGISTER: {REGISTER}, **only(DESTROYED, kinds={MANUAL})},
    "In the event that Jivosoft's offices are destroyed or rendered inaccessible, employees will be given the "
    "option of working from home or going to Geekdom and working from there.":
        only(DESTROYED, kinds={MANUAL, NOTIFY}),
    "Jivosoft's executive management would immediately file a casualty claim with the company's casualty insurer.":
        only(DESTROYED, kinds={MANUAL}),
    "Jivosoft's executive management would immediately contact a commercial realtor to identify an appropriate "
    "office space with immediate availability.": only(DESTROYED, kinds={MANUAL}),
    "Executive management would work diligently to arrange for the reconstitution of core office capabilities, "
    "such as utilities, local area networking, broadband Internet access, desks, phones and computers.":
        only(DESTROYED, kinds={MANUAL}),
    "Employees would reconstitute their own personal work environments, restoring data and files from off-site "
    "backups and reinstalling third-party software.": only(DESTROYED, kinds={MANUAL}),

    # --- Jivosoft, Disasters 3 and 4: a cloud server crashes; the Dallas data center goes offline ---
    "It is possible that one of Jivosoft's virtual Cloud Servers suffers an unrecoverable hardware or software "
    "failure.": only(CRASH, kinds={TRIGGER}),
    "It is possible that Rackspace's Dallas Data Center becomes inaccessible due to loss of power, loss of "
    "Internet connectivity, or destruction of equipment or facilities.": only(DALLAS, kinds={TRIGGER}),
    "Rackspace operates a physically secure data center with extensive power and network redundancy.":
        {REGISTER: {REGISTER}},
    # Backups: the policies the backups app watches.
    "Jivosoft creates Cloud Backups of customer databases daily.": {POLICY: {POLICY}},
    "On a weekly basis, customer databases are backed up to Cloud Storage located in a Rackspace Data Center in "
    "Kansas City, Missouri.": {POLICY: {POLICY}},
    "Jivosoft creates Cloud Backups of System Images of its servers on a weekly basis.": {POLICY: {POLICY}},
    "These images are stored in a Rackspace Data Center in Kansas City, Missouri.": {POLICY: {POLICY}},
    # What the backups make possible: automated restores and provisioning.
    "Should it be necessary to restore one or more customer databases from backup, this could be done very "
    "quickly, easily and reliably.": only(CRASH, DALLAS, kinds={AUTOMATED}),
    "In the event that a particular server became disabled, Jivosoft could provision a new server with the most "
    "recent viable image of the disabled server.": only(CRASH, DALLAS, HOME, kinds={AUTOMATED}),
    # Recovery times: the scenarios' RTO.
    "The entire process of provisioning a new server from a backup image would take approximately 15-30 minutes.":
        only(CRASH, kinds={OBJECTIVES}),
    "The entire process of provisioning a new server from a backup image would take approximately 30-60 minutes.":
        only(DALLAS, kinds={OBJECTIVES}),
    "Jivosoft would contact Rackspace to determine the cause of the server outage.": only(CRASH, kinds={MANUAL}),
    "If Rackspace is able to recover the server quickly, no further action would be required.":
        only(CRASH, kinds={DECISION, MANUAL}),
    "Jivosoft would contact Rackspace to determine the cause of the data center going offline.":
        only(DALLAS, kinds={MANUAL}),
    "If Rackspace anticipates that the data center will be operational and available within 8 hours, no further "
    "action would be required.": only(DALLAS, kinds={DECISION, WAIT, MANUAL, OBJECTIVES}),
    # Notices to customers, with what they lose: notify steps; the promise is also the scenarios' RPO target.
    "Jivosoft staff would notify all impacted customers of the outage and provide an expected timeline for the "
    "resumption of service.": only(CRASH, DALLAS, HOME, kinds={NOTIFY}),
    "In the case of potential data loss, Jivosoft will notify the customer of what data they can expect to "
    "recover and what data would need to be reconstituted.": only(CRASH, DALLAS, kinds={NOTIFY}),
    "In no case would customers expect to lose any data prior to the early morning of the day of the outage.":
        only(CRASH, DALLAS, kinds={NOTIFY, OBJECTIVES}),
    "If Rackspace is not able to recover the server or if there is likely to be an extended outage, Jivosoft's "
    "staff would provision a replacement server through the Rackspace Control Panel using the most recent, viable "
    "system image for the disabled server.": only(CRASH, kinds={APPROVAL, AUTOMATED}),
    "If customer databases reside on the disabled server, Jivosoft staff would attempt to recover the databases "
    "from attached storage from the disabled server.": only(CRASH, kinds={AUTOMATED}),
    "If the databases could not be recovered from attached storage, then they would be recovered from Cloud "
    "Storage.": only(CRASH, kinds={AUTOMATED}),
    "Jivosoft will with Rackspace support to attempt to transfer the IP address of the failed server to the newly "
    "re-provisioned server.": only(CRASH, kinds={AUTOMATED}),
    "If Rackspace is not able to configure the new server with the same IP Address, Jivosoft staff will update the "
    "DNS entries for the affected server to point to the newly re-provisioned server.":
        only(CRASH, kinds={AUTOMATED}),
    "If there were changes to the server environment since the image was backed up, staff will document and "
    "re-create the changes.": only(CRASH, kinds={MANUAL}),
    "Once the server has been reconstituted, Jivosoft will notify customers that the services are once again "
    "available.": only(CRASH, kinds={NOTIFY}),
    "Jivosoft staff will meet to review what, if any, changes were made to the server environment that may have "
    "contributed to the crash.": only(CRASH, kinds={MANUAL}),
    "Staff will document the cause of the crash and what steps should be taken in the future to avoid repetition "
    "of the failure.": only(CRASH, kinds={MANUAL}),
    "If Rackspace is not able to recover the server or if there is likely to be an outage longer than 8 hours, "
    "Jivosoft's staff would provision replacement servers through the Rackspace Control Panel using the most "
    "recent, viable system images for the disabled servers stored in the Rackspace data center in Kansas City, "
    "Missouri.": only(DALLAS, kinds={DECISION, APPROVAL, AUTOMATED}),
    "Customer databases would be recovered from Cloud Storage and customers would be notified of the extent of "
    "any data loss.": only(DALLAS, HOME, kinds={AUTOMATED, NOTIFY}),
    "It is unlikely that Rackspace would be able to transfer IP addresses from the servers in the Dallas data "
    "center to the newly re-provisioned servers in the Kansas City data center.": only(DALLAS, kinds={AUTOMATED}),
    "Therefore, Jivosoft staff would update the DNS entries for the lost servers to reflect the addresses of the "
    "newly re-provisioned servers.": only(DALLAS, HOME, kinds={AUTOMATED}),
    "It can take several hours or longer for DNS entries to propagate completely through the Internet.":
        only(DALLAS, HOME, kinds={AUTOMATED}),
    "As a result, Jivosoft should prioritize the task of updating the DNS and do so as soon as the IP addresses "
    "of the newly provisioned servers are known.": only(DALLAS, kinds={AUTOMATED}),
    "Due to delays in DNS propagation, some Jivosoft customers or users could experience difficulty accessing the "
    "SaaS services for as long as a day.": only(DALLAS, kinds={AUTOMATED, NOTIFY}),
    "If there were changes to the servers' environment(s) since the images were backed up, staff will document "
    "and re-create the changes on the newly re-provisioned servers.": only(DALLAS, kinds={MANUAL}),
    "Once the servers have been reconstituted, Jivosoft will notify customers that the services are once again "
    "available.": only(DALLAS, HOME, kinds={NOTIFY}),
    "Once services are fully restored, Jivosoft staff will review its new environment and fine-tune any changes "
    "that are necessary to reestablish appropriate levels of redundancy and recoverability.":
        {**only(DALLAS, kinds={MANUAL}), HOME: {TRIGGER, MANUAL, APPROVAL, AUTOMATED}},
    # Putting the off-site copies off-site again is what reconfigure_offsite does.
    'For example, if new servers are operating from the same data center where the "off-site" backups were '
    'stored, those backups are no longer "off-site," but rather are co-located with the new servers.':
        only(DALLAS, kinds={AUTOMATED}),
    "Jivosoft staff will reconfigure backups to be stored off-site at another Rackspace data center that is fully "
    "operational.": only(DALLAS, HOME, kinds={AUTOMATED}),

    # --- Cybernance, 1 Policy Statement (and the sentences 2 and 3 repeat) ---
    "Cybernance employs daily offsite backups, continuous replication, and point-in-time recovery.":
        # The database's total loss chooses between point-in-time recovery and the daily off-site dump, and
        # restores the dump when point-in-time restore cannot be used.
        {REGISTER: {REGISTER}, POLICY: {POLICY}, DB_LOST: {DECISION, AUTOMATED}},
    "Cybernance utilizes Amazon Web Service as their hosting platform.": {REGISTER: {REGISTER}},
    "Amazon's service is best in class, and guarantees the \"five 9's\" of uptime (99.999%), triple-redundant "
    "backups daily, and a multitude of security audit certifications for their data centers.": {REGISTER: {REGISTER}},
    "All Cybernance Platform code is stored in GitHub in a minimum of three redundant server farms, with at least "
    "one of them in a different physical location than the other two.": {REGISTER: {REGISTER}},
    # Losing GitHub: its own scenario recovers the code from the local mirrors; nothing else may quote it.
    "It would take a catastrophe of epic proportions to destroy all three sites simultaneously (in which case, our "
    "local backups would be used to recover).":
        {REGISTER: {REGISTER}, **only(GITHUB, kinds={TRIGGER, OBJECTIVES, MANUAL, APPROVAL, AUTOMATED, NOTIFY})},
    "The servers are designed to replicate data or fail over to a secondary database to enable uninterrupted "
    "service in the event of a technical or other issue.": {REGISTER: {REGISTER}, **only(RDS, kinds={NOTIFY})},
    "An Amazon service called RDS with synchronous replication enabled is used.": {REGISTER: {REGISTER}},
    "This means that every piece of data written to the database is synchronously replicated to another data "
    "center.": {REGISTER: {REGISTER}, **only(RDS, kinds={OBJECTIVES})},
    "In the event that the primary database, or even the entire datacenter that holds the primary database, fails "
    "in some way, the secondary database will pick up and respond to queries without manual intervention.":
        only(RDS, kinds={AUTOMATED, MANUAL}),
    "Should the primary database, or even the entire datacenter that holds the primary database, fail in some way, "
    "the secondary database will pick up and respond to queries without any manual intervention.":
        only(RDS, kinds={TRIGGER, OBJECTIVES, AUTOMATED, MANUAL}),
    # Both databases lost (or every datacenter with them): a point-in-time restore, and customers told.
    "In the event that both the primary and secondary databases, or the datacenters that hold them, fail in some "
    "way, Cybernance can make use of backups and the point-in-time restore capabilities of those backups.":
        only(DB_LOST, kinds={TRIGGER, OBJECTIVES, NOTIFY, MANUAL}),
    "These backups are up-to-date within 5 minutes.": {POLICY: {POLICY}, **only(DB_LOST, kinds={OBJECTIVES, NOTIFY})},
    "If both the primary and secondary databases, or the datacenters that hold them, fail in some way, Cybernance "
    "can make use of backups, and the point-in-time restore capabilities of those backups.":
        only(DB_LOST, ALL_DC, CYB_HOME, kinds={APPROVAL, AUTOMATED, MANUAL}),
    "These backups are generally up to date within 5 minutes.":
        only(DB_LOST, ALL_DC, CYB_HOME, kinds={AUTOMATED, NOTIFY}),
    # Application servers: stateless (register), one lost is replaced behind the load balancers.
    "The Cybernance Platform application servers are stateless, meaning that no information other than the code "
    "of the application is stored on the servers.": {REGISTER: {REGISTER}, **only(APP, kinds={AUTOMATED})},
    "Application servers are stateless, meaning that no information other than the code of the application is "
    "stored on the servers.": {REGISTER: {REGISTER}, **only(APP, kinds={AUTOMATED})},
    "If a server goes down, the load balancers will automatically redirect requests to the remaining application "
    "servers in other datacenters, and users will not even be logged out or know that anything has occurred.":
        only(APP, kinds={TRIGGER, MANUAL, AUTOMATED}),
    "If a server goes down, the load balancers will automatically redirect requests to the remaining application "
    "servers in other datacenters, and users will not even be logged out or know that anything has gone wrong.":
        only(APP, kinds={TRIGGER, OBJECTIVES, MANUAL, AUTOMATED}),
    "Currently, three datacenters are used.": {REGISTER: {REGISTER}},
    # Every datacenter lost: rebuild from code; the distributed backups are kept (register).
    "In the event that all three datacenters fail, a new server with the code can be provisioned, since "
    "distributed backups of both the servers themselves, the code, and the deployment mechanisms have been "
    "continuously maintained.": {REGISTER: {REGISTER},
                                 **only(ALL_DC, CYB_HOME, kinds={APPROVAL, AUTOMATED, MANUAL, NOTIFY})},
    "If all three datacenters fail, a new server with the code can be provisioned, since distributed backups of "
    "both the servers themselves, the code, and the deployment mechanisms have been continuously maintained.":
        {REGISTER: {REGISTER},
         **only(ALL_DC, CYB_HOME, kinds={TRIGGER, OBJECTIVES, APPROVAL, AUTOMATED, MANUAL, NOTIFY})},
    # Redis: the pair (register); one fails over, both lost waits for Amazon.
    "The two redis servers are managed by Amazon and are set up in a failover configuration that holds information "
    "about background asynchronous jobs (e.g., generating reports, emails, and so on).":
        {REGISTER: {REGISTER}, **only(REDIS_ONE, REDIS_BOTH, kinds={AUTOMATED})},
    "If one fails, the other one will take the load as they are provisioned to be large enough for that "
    "possibility.": {REGISTER: {REGISTER}, **only(REDIS_ONE, kinds={TRIGGER, OBJECTIVES, NOTIFY})},
    "If both fail, then some reports and emails will not go out until they have been restored to service by "
    "Amazon.": only(REDIS_BOTH, kinds={TRIGGER, OBJECTIVES, NOTIFY, WAIT, MANUAL}),
    # --- Cybernance, 4 Upon Termination: the customer export, driven by its own scenario ---
    "A customer who elects to terminate a paid license, either through cancelation or expiration of the license "
    "term, may request a data file containing the most current information associated with their accounts.":
        only(TERMINATION, kinds={TRIGGER, OBJECTIVES, MANUAL, AUTOMATED}),
}

# Sentences that ask nothing of anyone, by why.
CONTEXT: dict[str, list[str]] = {
    "overview: what the plan is for": [
        "Jivosoft provides software and SaaS (Software as a Service) products to its customers.",
        "These customers rely on the reliability, availability and continuity of Jivosoft's services for their day "
        "to day operations.",
        "It is critical to the financial and operational success of Jivosoft and the welfare of its customers that "
        "Jivosoft be prepared to recover from any disaster quickly, smoothly and transparently.",
        "Disasters can occur with very little or no warning.",
        "Jivosoft must anticipate the types of disasters, be they natural or man-made, that could befall the company "
        "or its infrastructure in order to ensure that it can rapidly recover and ensure continuity of its services "
        "to its customers.",
        "This plan specifically addresses the prospect of disasters that result in the destruction or loss of access "
        "to computers, computer networks and physical facilities that are vital to the continuity of Jivosoft as a "
        "business enterprise or the continuity, availability and reliability of SaaS services provided by Jivosoft "
        "to its customers.",
        "This document will present various types of disasters, assess what impact those disasters could have on the "
        "operation of the company and its services, identify policies and procedures currently in place to mitigate "
        "the impact of each disaster and the steps necessary to recover and restore continuity of the company and its "
        "services.",
    ],
    "impact: why a disaster matters (the scenario's title and the incident's severity carry it)": [
        "Jivosoft's employees rely on Internet connectivity to perform many of their daily tasks and to communicate "
        "with one another and with customers.",
        "Jivosoft's telephone system is a Voice-Over-IP (VOIP) system, and it relies both on electrical power and "
        "Internet connectivity to operate.",
        "Jivosoft's ability to provide customer support, a critical element of its day-to-day operations, relies on "
        "the availability of telephones and email.",
        "Jivosoft's employees use desktop computers for most of their day-to-day work, and the loss of the ability to "
        "operate an Internet-connected computer would disrupt the productivity of virtually every employee of the "
        "company.",
        "Jivosoft's employees routinely work in an office.",
        "The destruction of its offices would pose a challenge to the company's ability to continue developing "
        "software, operating its business and supporting its customers.",
        "Should one of these servers become incapacitated for any reason, there could be a significant loss of "
        "access to Jivosoft's SaaS services for some or all of Jivosoft's SaaS customers.",
        "Should the Rackspace Dallas Data Center go offline, all of Jivosoft's SaaS services would become "
        "unavailable.",
    ],
    "inventory: what exists and where (inventories/*.yaml models it)": [
        "Jivosoft keeps furnishings, fixtures, corporate records, financial records, computer software source code, "
        "computers, data storage and networking equipment at its offices.",
        "Jivosoft operates various Cloud Servers.",
        "Jivosoft operates its various Cloud Servers through Rackspace.",
        "All of Jivosoft's Cloud Servers are physically located in Rackspace's Dallas Data Center.",
        "The Cybernance Platform runs on a database server, three application servers, two redistribution (\"redis\") "
        "servers, and load balancers.",
    ],
}
# Lines without a closing full stop are headings ("Disaster 4: ...", "Response") and are not listed; so is the
# Jivosoft plan's last line, its review date, which every Jivosoft scenario carries as last_reviewed.


def normalise(text: str) -> str:
    text = text.replace("\u2019", "'").replace("\u2018", "'").replace("\u201c", '"').replace("\u201d", '"')
    return re.sub(r"\s+", " ", text.replace("Jivasoft", "Jivosoft")).strip()


def split(paragraph: str) -> list[str]:
    # "P.O. Box" is one name, not the end of a sentence.
    protected = paragraph.replace("P.O. Box", "P.O.~Box")
    return [s.replace("P.O.~Box", "P.O. Box") for s in re.split(r"(?<=[.!?])\s+(?=[A-Z(])", protected)]


def seed_sentences(path: Path) -> list[str]:
    """The sentences of a seed; headings (no closing full stop) left out, a paragraph broken mid-sentence joined."""
    paragraphs: list[str] = []
    for block in re.split(r"\n\s*\n", path.read_text()):
        text = normalise(block)
        if not text:
            continue
        if paragraphs and not re.search(r"[.!?)]$", paragraphs[-1]) and text[0].islower():
            paragraphs[-1] += " " + text
        else:
            paragraphs.append(text)
    return [s for p in paragraphs if re.search(r"[.!?]\)?$", p) for s in split(p)]


def fragments(quote: str, shortest: int = 20) -> list[str]:
    """The pieces of a quote: its sentences, cut at an ellipsis, long enough to mean something."""
    pieces = re.split(r"\s*(?:\.\.\.|…)\s*", normalise(quote))
    return [s for piece in pieces for s in split(piece) if len(s) >= shortest]


@cache
def places() -> list[tuple[str, str, str]]:
    """(place, kind, quote) for every quote drportal holds: scenario steps, triggers and objectives, the register,
    the backup policies' descriptions."""
    library = loader.library()
    found = []
    for scenario in library.scenarios.values():
        found.append((scenario.id, TRIGGER, scenario.data["trigger"]))
        if scenario.data["objectives"].get("quote"):
            found.append((scenario.id, OBJECTIVES, scenario.data["objectives"]["quote"]))
        found += [(scenario.id, step["kind"], step["quote"]) for step in scenario.steps]
    register = yaml.safe_load((BASE / "scenarios/mitigations.yaml").read_text())
    found += [(REGISTER, REGISTER, item["quote"]) for item in register if item.get("quote")]
    for inventory in sorted((BASE / "inventories").glob("*.yaml")):
        for policy in yaml.safe_load(inventory.read_text()).get("backup_policies", []):
            found += [(POLICY, POLICY, q) for q in re.findall(r'"([^"]{20,})"', policy.get("description", ""))]
    return found


def quotes(sentence: str, quote: str) -> bool:
    target = normalise(sentence)
    return any(piece in target or target in piece for piece in fragments(quote))


def test_the_library_has_no_file_errors():
    assert loader.library().errors == []


@pytest.mark.parametrize("seed", sorted(SEEDS))
def test_every_sentence_of_the_seed_is_either_plan_or_context(seed):
    listed = {normalise(s) for s in PLAN} | {normalise(s) for group in CONTEXT.values() for s in group}

    missing = [s for s in seed_sentences(SEEDS[seed]) if s not in listed]

    assert missing == []


def test_every_listed_sentence_is_in_a_seed():
    said = {s for path in SEEDS.values() for s in seed_sentences(path)}
    listed = list(PLAN) + [s for group in CONTEXT.values() for s in group]

    assert [s for s in listed if normalise(s) not in said] == []


@pytest.mark.parametrize("sentence", sorted(PLAN), ids=lambda s: s[:60])
def test_the_sentence_is_quoted_only_by_what_carries_it_out(sentence):
    allowed = PLAN[sentence]
    hits = [(place, kind) for place, kind, quote in places() if quotes(sentence, quote)]

    wrong = [hit for hit in hits if hit[1] not in allowed.get(hit[0], set())]
    assert wrong == [], f"quoted by something that does not carry it out: {wrong}"
    assert hits, "no step, register entry or policy quotes it"


def test_no_sentence_is_carried_by_its_trigger_or_objectives_alone_when_it_asks_for_work():
    work = {s: kinds for s, where in PLAN.items() for kinds in [set().union(*where.values())]
            if kinds - {TRIGGER, OBJECTIVES}}
    for sentence, _kinds in work.items():
        doers = [(place, kind) for place, kind, quote in places()
                 if kind not in (TRIGGER, OBJECTIVES) and quotes(sentence, quote)]
        assert doers, f"only a trigger or an objective quotes: {sentence}"


def test_everything_quoted_is_said_by_a_seed():
    text = " ".join(normalise(p.read_text()) for p in SEEDS.values())

    invented = [(place, kind, piece) for place, kind, quote in places() for piece in fragments(quote, 1)
                if piece not in text]

    assert invented == []


def test_a_notice_quoting_the_github_sentence_would_fail_the_check():
    """The check can fail: the old all-datacenters notice quoted the GitHub sentence."""
    sentence = next(s for s in PLAN if s.startswith("It would take a catastrophe"))
    old_quote = "It would take a catastrophe of epic proportions to destroy all three sites simultaneously"

    assert quotes(sentence, old_quote)
    assert NOTIFY not in PLAN[sentence].get(ALL_DC, set())


def test_every_register_entry_the_scenarios_name_exists():
    register = {item["slug"] for item in yaml.safe_load((BASE / "scenarios/mitigations.yaml").read_text())}
    named = {(s.id, slug) for s in loader.library().scenarios.values() for slug in s.data.get("mitigations", [])}

    assert [(sid, slug) for sid, slug in named if slug not in register] == []
