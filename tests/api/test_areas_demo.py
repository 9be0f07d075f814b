"""The demo seed gives operator1 small simulated areas around Soweto, once."""

from sqlalchemy import select

from app.models import AreaConfig, User


def test_seed_adds_the_demo_areas_once(app, db):
    runner = app.test_cli_runner()
    first = runner.invoke(args=["seed"])
    assert first.exit_code == 0, first.output
    assert "created area 'Soweto: Orlando West plots' for operator1" in first.output
    assert runner.invoke(args=["seed"]).exit_code == 0
    db.session.expire_all()
    operator = db.session.scalars(select(User).where(User.username == "operator1")).one()
    areas = db.session.scalars(select(AreaConfig).order_by(AreaConfig.id)).all()
    assert len(areas) == 3
    *tiled, scenes = areas
    for area in tiled:
        assert area.owner_id == operator.id and area.provider == "simulated"
        assert area.zoom == 18 and 20 <= area.tile_count <= 60
        assert -26.30 < area.min_lat < area.max_lat < -26.20
    assert scenes.owner_id == operator.id and scenes.provider == "simulated_sentinel2"
    assert scenes.tile_count == 1 and -26.31 < scenes.min_lat < scenes.max_lat < -26.20
    assert "created area 'Soweto: veld and fields (Sentinel-2)' for operator1 " \
           "(simulated_sentinel2 scenes)" in first.output
