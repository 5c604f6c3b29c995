"""Event trackers, as a part of the :class:`Project` facade.

An event tracker names the dataset group that ``put_events`` appends to; its ``trackingId``
is what Personalize's PutEvents takes instead of the group. As in Personalize, a dataset
group has at most one, and it must be deleted before its group.
"""

from __future__ import annotations

import uuid

from .base import ProjectBase
from .catalog import Record, check_name
from .connection import writes
from .errors import ResourceAlreadyExists, ResourceNotFound
from .texts import text

KIND = "event-tracker"


class EventTrackersAPI(ProjectBase):
    """Mixed into :class:`pypersonalize.Project`."""

    @writes
    def create_event_tracker(self, name: str, dataset_group: str) -> dict:
        """Create the dataset group's event tracker: ``{"eventTrackerArn", "trackingId"}``.

        >>> pp.create_event_tracker("site", "movies")["trackingId"]  # doctest: +SKIP
        '0d3f2a6e-...'
        """
        check_name(name, "event tracker")
        group = self.catalog.get("dataset-group", dataset_group)
        if self.catalog.select(KIND, name=name):
            raise ResourceAlreadyExists(f"event tracker {name!r} already exists")
        held = self.catalog.select(KIND, dataset_group_arn=group.arn)
        if held:
            raise ResourceAlreadyExists(f"dataset group {group.name!r} already has event tracker "
                                        f"{held[0].name!r}: a dataset group has one")
        arn = self.catalog.arn("event-tracker", name)
        tracking_id = str(uuid.uuid4())
        with self._transaction():
            self.catalog.add(arn=arn, kind=KIND, name=name, dataset_group_arn=group.arn,
                             config={"trackingId": tracking_id})
        return {"eventTrackerArn": arn, "trackingId": tracking_id}

    def describe_event_tracker(self, event_tracker: str) -> dict:
        rec = self.catalog.get(KIND, event_tracker)
        return {"eventTracker": {**self._tracker_dict(rec), "trackingId": rec.config["trackingId"],
                                 "accountId": self.catalog.account_id, "datasetGroupArn": rec.dataset_group_arn}}

    def list_event_trackers(self, dataset_group: str | None = None) -> dict:
        group_arn = self.catalog.get("dataset-group", dataset_group).arn if dataset_group else None
        return {"eventTrackers": [self._tracker_dict(r)
                                  for r in self.catalog.select(KIND, dataset_group_arn=group_arn)]}

    @writes
    def delete_event_tracker(self, event_tracker: str) -> None:
        rec = self.catalog.get(KIND, event_tracker)
        with self._transaction():
            self.catalog.remove(rec)

    @staticmethod
    def _tracker_dict(rec: Record) -> dict:
        return {"name": rec.name, "eventTrackerArn": rec.arn, "status": rec.status,
                "creationDateTime": rec.created_at, "lastUpdatedDateTime": rec.updated_at}


def tracked_group(catalog, tracking_id) -> Record:
    """The dataset group whose event tracker has ``tracking_id`` (put_events' target)."""
    tracking_id = text(tracking_id, "trackingId")
    for rec in catalog.select(KIND):
        if rec.config.get("trackingId") == tracking_id:
            return catalog.get("dataset-group", rec.dataset_group_arn)
    raise ResourceNotFound(f"no event tracker has trackingId {tracking_id!r}")


__all__ = ["KIND", "EventTrackersAPI", "tracked_group"]
