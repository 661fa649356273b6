from models.migration_files import AddCheckConstraint
from tortoise import migrations
from tortoise.migrations import operations as ops
from domain.enums import BusinessType, Channel, InsuranceType, JobKind, PolicyStatus, ServiceChannel, TransactionStatus
from tortoise import fields
from tortoise.indexes import Index
from tortoise.migrations.constraints import CheckConstraint

class Migration(migrations.Migration):
    dependencies = [('models', '0005_job_heartbeat_arrear_interest')]

    initial = False

    operations = [
        ops.CreateModel(
            name='BusinessVolumeRollup',
            fields=[
                ('id', fields.BigIntField(generated=True, primary_key=True, unique=True, db_index=True)),
                ('month', fields.IntField()),
                ('business_type', fields.CharEnumField(description='REGISTER_PERSON: REGISTER_PERSON\nREGISTER_EMPLOYER: REGISTER_EMPLOYER\nGRANT_ONLINE_ACCESS: GRANT_ONLINE_ACCESS\nINSTALL_CERTIFICATE: INSTALL_CERTIFICATE\nREVOKE_CERTIFICATE: REVOKE_CERTIFICATE\nCHANGE_PASSWORD: CHANGE_PASSWORD\nENROLL_FLEXIBLE: ENROLL_FLEXIBLE\nSUSPEND_FLEXIBLE: SUSPEND_FLEXIBLE\nCHANGE_PENSION_GRADE: CHANGE_PENSION_GRADE\nUPDATE_PERSONAL_INFO: UPDATE_PERSONAL_INFO\nAPPLY_MEDICAL_CARD: APPLY_MEDICAL_CARD\nRECORD_DEPOSIT: RECORD_DEPOSIT\nPAY_ARREARS: PAY_ARREARS\nCANCEL_ARREARS: CANCEL_ARREARS\nPAY_INTERRUPTION: PAY_INTERRUPTION\nADD_EMPLOYEES: ADD_EMPLOYEES\nREMOVE_EMPLOYEES: REMOVE_EMPLOYEES\nEMPLOYER_BACK_PAY: EMPLOYER_BACK_PAY\nDECLARE_CONTRIBUTION_BASE: DECLARE_CONTRIBUTION_BASE\nBOOK_APPOINTMENT: BOOK_APPOINTMENT\nCANCEL_APPOINTMENT: CANCEL_APPOINTMENT\nCHECK_IN_APPOINTMENT: CHECK_IN_APPOINTMENT', enum_type=BusinessType, max_length=32)),
                ('status', fields.CharEnumField(description="the transaction's status when computed", enum_type=TransactionStatus, max_length=32)),
                ('channel', fields.CharEnumField(description='ONLINE: ONLINE\nCOUNTER: COUNTER', enum_type=ServiceChannel, max_length=32)),
                ('district_id', fields.IntField()),
                ('transactions', fields.IntField()),
            ],
            options={'table': 'business_volume_rollup', 'app': 'models', 'indexes': [Index(fields=['month', 'business_type'])], 'pk_attr': 'id', 'table_description': 'Business transactions submitted in a month (local time, M2) per business type, status,'},
            bases=['Model'],
        ),
        ops.CreateModel(
            name='EnrollmentRollup',
            fields=[
                ('id', fields.BigIntField(generated=True, primary_key=True, unique=True, db_index=True)),
                ('month', fields.IntField()),
                ('grouping_set', fields.SmallIntField()),
                ('insurance_type', fields.CharEnumField(null=True, description='PENSION: PENSION\nMEDICAL: MEDICAL\nUNEMPLOYMENT: UNEMPLOYMENT\nWORK_INJURY: WORK_INJURY\nMATERNITY: MATERNITY', enum_type=InsuranceType, max_length=32)),
                ('channel', fields.CharEnumField(null=True, description='FLEXIBLE: FLEXIBLE\nEMPLOYER: EMPLOYER', enum_type=Channel, max_length=32)),
                ('district_id', fields.IntField(null=True)),
                ('status', fields.CharEnumField(null=True, description="the policy's status when computed", enum_type=PolicyStatus, max_length=32)),
                ('persons', fields.IntField()),
            ],
            options={'table': 'enrollment_rollup', 'app': 'models', 'indexes': [Index(fields=['month', 'grouping_set'])], 'pk_attr': 'id', 'table_description': 'Insured persons in force in a month, counted once a group, for every one of the 16 grouping'},
            bases=['Model'],
        ),
        ops.CreateModel(
            name='OnlineAdoptionRollup',
            fields=[
                ('id', fields.IntField(generated=True, primary_key=True, unique=True, db_index=True)),
                ('district_id', fields.IntField(unique=True)),
                ('persons', fields.IntField()),
                ('persons_online', fields.IntField()),
                ('employers', fields.IntField()),
                ('employers_online', fields.IntField()),
                ('computed_at', fields.DatetimeField(auto_now=False, auto_now_add=False)),
            ],
            options={'table': 'online_adoption_rollup', 'app': 'models', 'pk_attr': 'id', 'table_description': 'Per district, as at ``computed_at``: registered persons and those with an active person'},
            bases=['Model'],
        ),
        ops.CreateModel(
            name='RollupMonth',
            fields=[
                ('id', fields.IntField(generated=True, primary_key=True, unique=True, db_index=True)),
                ('month', fields.IntField(unique=True)),
                ('computed_at', fields.DatetimeField(auto_now=False, auto_now_add=False)),
            ],
            options={'table': 'rollup_month', 'app': 'models', 'pk_attr': 'id', 'table_description': 'A month whose rollups are written: its enrollment and business-volume rows were computed'},
            bases=['Model'],
        ),
        ops.RemoveConstraint(
            model_name='Job',
            name='ck_job_kind',
            fields=None,
        ),
        ops.AlterField(
            model_name='Job',
            name='kind',
            field=fields.CharEnumField(description='MONTH_END: MONTH_END\nREPRICE_YEAR: REPRICE_YEAR\nRECALCULATE_ARREARS: RECALCULATE_ARREARS\nCARD_PHOTO: CARD_PHOTO\nREFRESH_STATISTICS: REFRESH_STATISTICS', enum_type=JobKind, max_length=32),
        ),
        AddCheckConstraint(
            model_name='Job',
            constraint=CheckConstraint(check="kind IN ('MONTH_END', 'REPRICE_YEAR', 'RECALCULATE_ARREARS', 'CARD_PHOTO', 'REFRESH_STATISTICS')", name='ck_job_kind'),
        ),
        AddCheckConstraint('BusinessVolumeRollup', CheckConstraint(check='month BETWEEN 195001 AND 219912 AND month % 100 BETWEEN 1 AND 12', name='ck_business_volume_rollup_month')),
        AddCheckConstraint('BusinessVolumeRollup', CheckConstraint(check="business_type IN ('REGISTER_PERSON', 'REGISTER_EMPLOYER', 'GRANT_ONLINE_ACCESS', 'INSTALL_CERTIFICATE', 'REVOKE_CERTIFICATE', 'CHANGE_PASSWORD', 'ENROLL_FLEXIBLE', 'SUSPEND_FLEXIBLE', 'CHANGE_PENSION_GRADE', 'UPDATE_PERSONAL_INFO', 'APPLY_MEDICAL_CARD', 'RECORD_DEPOSIT', 'PAY_ARREARS', 'CANCEL_ARREARS', 'PAY_INTERRUPTION', 'ADD_EMPLOYEES', 'REMOVE_EMPLOYEES', 'EMPLOYER_BACK_PAY', 'DECLARE_CONTRIBUTION_BASE', 'BOOK_APPOINTMENT', 'CANCEL_APPOINTMENT', 'CHECK_IN_APPOINTMENT')", name='ck_business_volume_rollup_business_type')),
        AddCheckConstraint('BusinessVolumeRollup', CheckConstraint(check="status IN ('SUBMITTED', 'ACCEPTED', 'COMPLETED', 'REJECTED', 'CANCELLED')", name='ck_business_volume_rollup_status')),
        AddCheckConstraint('BusinessVolumeRollup', CheckConstraint(check="channel IN ('ONLINE', 'COUNTER')", name='ck_business_volume_rollup_channel')),
        AddCheckConstraint('BusinessVolumeRollup', CheckConstraint(check='transactions > 0', name='ck_business_volume_rollup_transactions_counted')),
        AddCheckConstraint('EnrollmentRollup', CheckConstraint(check='month BETWEEN 195001 AND 219912 AND month % 100 BETWEEN 1 AND 12', name='ck_enrollment_rollup_month')),
        AddCheckConstraint('EnrollmentRollup', CheckConstraint(check="insurance_type IS NULL OR insurance_type IN ('PENSION', 'MEDICAL', 'UNEMPLOYMENT', 'WORK_INJURY', 'MATERNITY')", name='ck_enrollment_rollup_insurance_type')),
        AddCheckConstraint('EnrollmentRollup', CheckConstraint(check="channel IS NULL OR channel IN ('FLEXIBLE', 'EMPLOYER')", name='ck_enrollment_rollup_channel')),
        AddCheckConstraint('EnrollmentRollup', CheckConstraint(check="status IS NULL OR status IN ('ACTIVE', 'SUSPENDED', 'TERMINATED')", name='ck_enrollment_rollup_status')),
        AddCheckConstraint('EnrollmentRollup', CheckConstraint(check='grouping_set BETWEEN 0 AND 15', name='ck_enrollment_rollup_grouping_set_range')),
        AddCheckConstraint('EnrollmentRollup', CheckConstraint(check='((grouping_set & 1) = 0) = (insurance_type IS NULL)', name='ck_enrollment_rollup_grouped_insurance_type')),
        AddCheckConstraint('EnrollmentRollup', CheckConstraint(check='((grouping_set & 2) = 0) = (channel IS NULL)', name='ck_enrollment_rollup_grouped_channel')),
        AddCheckConstraint('EnrollmentRollup', CheckConstraint(check='((grouping_set & 4) = 0) = (district_id IS NULL)', name='ck_enrollment_rollup_grouped_district')),
        AddCheckConstraint('EnrollmentRollup', CheckConstraint(check='((grouping_set & 8) = 0) = (status IS NULL)', name='ck_enrollment_rollup_grouped_status')),
        AddCheckConstraint('EnrollmentRollup', CheckConstraint(check='persons >= 0', name='ck_enrollment_rollup_persons_counted')),
        AddCheckConstraint('OnlineAdoptionRollup', CheckConstraint(check='persons_online >= 0 AND persons_online <= persons', name='ck_online_adoption_rollup_persons_online_range')),
        AddCheckConstraint('OnlineAdoptionRollup', CheckConstraint(check='employers_online >= 0 AND employers_online <= employers', name='ck_online_adoption_rollup_employers_online_range')),
        AddCheckConstraint('RollupMonth', CheckConstraint(check='month BETWEEN 195001 AND 219912 AND month % 100 BETWEEN 1 AND 12', name='ck_rollup_month_month')),
    ]
